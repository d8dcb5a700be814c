import {
  atomaTokenAbi,
  atomaVaultAbi,
  nodeRegistryAbi,
  settlementManagerAbi,
  stackManagerAbi,
} from "@atoma/contracts";
import type { readContext } from "@atoma/sdk";
import { type Address, zeroAddress } from "viem";

type Reader = ReturnType<typeof readContext>;

/**
 * What the chain itself says of the figures the explorer shows, read straight from the contracts (their state where
 * they keep it, their logs otherwise), so that a browser test can hold the page to it.
 */
export async function chainTallies(reader: Reader, nodeIds: readonly bigint[]) {
  const { publicClient, addresses } = reader;
  const settlementManager = (addresses as unknown as Record<string, Address>).SettlementManager;
  if (!settlementManager) throw new Error("the network names no SettlementManager");
  const fromBlock = 0n;
  const settlementLogs = <E extends "SettlementSubmitted" | "AttestersSampled" | "AttestationSkipped">(
    eventName: E,
  ) =>
    publicClient.getContractEvents({
      address: settlementManager,
      abi: settlementManagerAbi,
      eventName,
      fromBlock,
    });
  const [bought, submitted, sampled, skipped, disputed, burns] = await Promise.all([
    publicClient.getContractEvents({
      address: addresses.StackManager,
      abi: stackManagerAbi,
      eventName: "StackBought",
      fromBlock,
    }),
    settlementLogs("SettlementSubmitted"),
    settlementLogs("AttestersSampled"),
    settlementLogs("AttestationSkipped"),
    publicClient.getContractEvents({
      address: settlementManager,
      abi: settlementManagerAbi,
      eventName: "SettlementDisputed",
      fromBlock,
    }),
    // Every burn of the vault's: fee burns and the burned share of slashes.
    publicClient.getContractEvents({
      address: addresses.AtomaToken,
      abi: atomaTokenAbi,
      eventName: "Transfer",
      args: { from: addresses.AtomaVault, to: zeroAddress },
      fromBlock,
    }),
  ]);
  // The vault's own ledger of fees credited, epoch by epoch: node and model owner shares alike.
  const vault = { address: addresses.AtomaVault, abi: atomaVaultAbi } as const;
  const epoch = await publicClient.readContract({ ...vault, functionName: "currentEpoch" });
  let feesPaid = 0n;
  for (let e = 0n; e <= epoch; e++) {
    const [nodeFees, modelFees] = await publicClient.readContract({
      ...vault,
      functionName: "epochTotals",
      args: [e],
    });
    feesPaid += nodeFees + modelFees;
  }
  const nodes = await Promise.all(
    nodeIds.map(async (id) => {
      const node = await publicClient.readContract({
        address: addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "getNode",
        args: [id],
      });
      return {
        id,
        reputation: Number(node.reputation),
        echelon: Number(node.echelon),
        stacksServed: bought.filter((log) => log.args.nodeId === id).length,
        settlements: submitted.filter((log) => log.args.nodeId === id).length,
      };
    }),
  );
  return {
    nodes,
    feesPaid,
    burned: burns.reduce((total, log) => total + (log.args.value ?? 0n), 0n),
    settlements: submitted.length,
    sampled: sampled.length,
    skipped: skipped.length,
    requestsChecked: sampled.reduce((total, log) => total + (log.args.requestIndices?.length ?? 0), 0),
    disputes: disputed.length,
  };
}
