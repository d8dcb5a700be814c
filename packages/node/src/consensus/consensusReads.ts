import type { AtomaPublicClient } from "@atoma/chain";
import { modelIdOf } from "@atoma/chain";
import { consensusRequestsAbi, taskRegistryAbi } from "@atoma/contracts";
import { type Address, type Hex, keccak256 } from "viem";
import { ConsensusModelMismatchError, ConsensusPromptError } from "./errors.js";

/** ConsensusRequests.Status, in the contract's order. */
export const RequestStatus = {
  None: 0,
  Drawing: 1,
  Committing: 2,
  Delivering: 3,
  Disputed: 4,
  Delivered: 5,
  Failed: 6,
} as const;

export interface OnChainRequest {
  status: number;
  n: number;
  taskId: bigint;
  maxUnits: bigint;
  promptHash: Hex;
}

export async function readConsensusRequest(
  client: AtomaPublicClient,
  address: Address,
  requestId: bigint,
): Promise<OnChainRequest> {
  const r = await client.readContract({
    address,
    abi: consensusRequestsAbi,
    functionName: "getRequest",
    args: [requestId],
  });
  return { status: r.status, n: r.n, taskId: r.taskId, maxUnits: r.maxUnits, promptHash: r.promptHash };
}

/** The contract's cap on delivered output bytes. */
export async function readMaxOutputBytes(client: AtomaPublicClient, address: Address): Promise<number> {
  const params = await client.readContract({ address, abi: consensusRequestsAbi, functionName: "params" });
  return Number(params[4]);
}

/**
 * The prompt of a request, from its ConsensusRequested log (the contract stores only its hash), checked against
 * that hash. Committee members need it: they were not sampled, so they kept no copy.
 */
export async function readConsensusPrompt(
  client: AtomaPublicClient,
  address: Address,
  requestId: bigint,
  options: { fromBlock: bigint; promptHash: Hex },
): Promise<Hex> {
  const logs = await client.getContractEvents({
    address,
    abi: consensusRequestsAbi,
    eventName: "ConsensusRequested",
    args: { requestId },
    fromBlock: options.fromBlock,
    strict: true,
  });
  const prompt = logs[0]?.args.prompt;
  if (prompt === undefined) throw new ConsensusPromptError(requestId, "no ConsensusRequested log found");
  if (keccak256(prompt) !== options.promptHash)
    throw new ConsensusPromptError(requestId, "the logged prompt does not match the recorded hash");
  return prompt;
}

/** Throws ConsensusModelMismatchError unless task `taskId` is for the model `served`. */
export async function assertTaskModel(
  client: AtomaPublicClient,
  taskRegistry: Address,
  taskId: bigint,
  served: string,
): Promise<void> {
  const task = await client.readContract({
    address: taskRegistry,
    abi: taskRegistryAbi,
    functionName: "getTask",
    args: [taskId],
  });
  if (task.modelId.toLowerCase() !== modelIdOf(served).toLowerCase())
    throw new ConsensusModelMismatchError(taskId, served);
}
