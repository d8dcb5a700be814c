import { createAtomaPublicClient, stackManagerAbi } from "@atoma/chain/portable";
import { type Address, createPublicClient, http, isAddress } from "viem";
import { VerifyArgumentError } from "../errors.js";
import type { Network } from "../network.js";
import { memoryTaskLogStore, type TaskLogStore } from "./taskLogCache.js";
import type { VerifyChain } from "./verifyArguments.js";

/**
 * The chain a network description names, as `verifyResponse` reads it: task logs from its `deploymentBlock`, kept in
 * `taskLogs` (one store of this process unless given) between lookups.
 */
export function verifyChainOf(network: Network, taskLogs: TaskLogStore = memoryTaskLogStore()): VerifyChain {
  return {
    publicClient: createAtomaPublicClient(network),
    addresses: network.contracts,
    ...(network.deploymentBlock !== undefined && { fromBlock: BigInt(network.deploymentBlock) }),
    taskLogs,
  };
}

/**
 * The chain behind a bare RPC URL, from the StackManager's address alone: the chain id from the RPC, the
 * NodeRegistry and SettlementManager from the StackManager's own getters (so nothing else need be typed in).
 */
export async function verifyChainFromRpc(rpcUrl: string, stackManager: string): Promise<VerifyChain> {
  if (!/^https?:\/\//.test(rpcUrl)) throw new VerifyArgumentError("the RPC URL must be http(s)");
  if (!isAddress(stackManager)) throw new VerifyArgumentError("the StackManager must be an address");
  const chainId = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  const publicClient = createAtomaPublicClient({ rpcUrl, chainId });
  const read = (functionName: "nodeRegistry" | "settlement") =>
    publicClient.readContract({ address: stackManager as Address, abi: stackManagerAbi, functionName });
  const [NodeRegistry, SettlementManager] = await Promise.all([read("nodeRegistry"), read("settlement")]);
  return {
    publicClient,
    addresses: { StackManager: stackManager as Address, NodeRegistry, SettlementManager },
  };
}
