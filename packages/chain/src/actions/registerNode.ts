import { nodeRegistryAbi } from "@atoma/contracts";
import { type Address, parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface RegisterNodeParams {
  /** The key the node signs responses with (and may send protocol transactions from). */
  signer: Address;
  /** Public URL of the node's API. */
  url: string;
  /** Hardware class: attesters and committees come from the same echelon. */
  echelon: number;
  /** TOMA (wei) staked; at least the registry's minimum. Approved for the registry when needed. */
  collateral: bigint;
}

export interface RegisterNodeResult extends TxInfo {
  nodeId: bigint;
  eligibleFromEpoch: bigint;
}

/** Stakes collateral and registers the context's account as a node operator. */
export async function registerNode(
  ctx: ChainContext,
  params: RegisterNodeParams,
): Promise<RegisterNodeResult> {
  await ensureAllowance(ctx, ctx.addresses.NodeRegistry, params.collateral);
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "register",
    args: [params.signer, params.url, params.echelon, params.collateral],
  });
  const event = single(
    parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "NodeRegistered" }),
    "NodeRegistered",
  );
  return { ...txInfo(receipt), nodeId: event.args.nodeId, eligibleFromEpoch: event.args.eligibleFromEpoch };
}
