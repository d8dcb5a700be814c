import { stackManagerAbi } from "@atoma/contracts";
import type { Address } from "viem";
import type { AtomaPublicClient } from "../clients.js";
import { nodeIdOfSigner } from "./nodeIdOfSigner.js";

/** The node id registered for `signer`, or undefined when no node signs with it. */
export async function readNodeIdOfSigner(
  client: AtomaPublicClient,
  nodeRegistry: Address,
  signer: Address,
): Promise<bigint | undefined> {
  const nodeId = await nodeIdOfSigner(
    { publicClient: client, addresses: { NodeRegistry: nodeRegistry } },
    signer,
  );
  return nodeId === 0n ? undefined : nodeId;
}

export interface OnChainStack {
  owner: Address;
  /** A `StackStatus` value. */
  status: number;
  taskId: bigint;
  nodeId: bigint;
  units: bigint;
  expiresAt: bigint;
  pricePerMillion: bigint;
}

/** A stack as the StackManager records it, or undefined when no such stack was bought. */
export async function readStack(
  client: AtomaPublicClient,
  stackManager: Address,
  stackId: bigint,
): Promise<OnChainStack | undefined> {
  const count = await client.readContract({
    address: stackManager,
    abi: stackManagerAbi,
    functionName: "stackCount",
  });
  if (stackId === 0n || stackId > count) return undefined;
  const stack = await client.readContract({
    address: stackManager,
    abi: stackManagerAbi,
    functionName: "getStack",
    args: [stackId],
  });
  return {
    owner: stack.owner,
    status: stack.status,
    taskId: BigInt(stack.taskId),
    nodeId: BigInt(stack.nodeId),
    units: BigInt(stack.units),
    expiresAt: BigInt(stack.expiresAt),
    pricePerMillion: stack.pricePerMillion,
  };
}
