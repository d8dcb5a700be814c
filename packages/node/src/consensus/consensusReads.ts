import { findConsensusPrompt, getTask, modelIdOf } from "@atoma/chain";
import { type Hex, keccak256 } from "viem";
import type { NodeSeat } from "../service/nodeSeat.js";
import { ConsensusModelMismatchError, ConsensusPromptError } from "./errors.js";

/**
 * The prompt of a request, from its ConsensusRequested log (the contract stores only its hash), checked against
 * that hash. Committee members need it: they were not sampled, so they kept no copy.
 */
export async function readConsensusPrompt(
  seat: NodeSeat,
  requestId: bigint,
  options: { fromBlock: bigint; promptHash: Hex },
): Promise<Hex> {
  const prompt = await findConsensusPrompt(seat, { requestId, fromBlock: options.fromBlock });
  if (prompt === undefined) throw new ConsensusPromptError(requestId, "no ConsensusRequested log found");
  if (keccak256(prompt) !== options.promptHash)
    throw new ConsensusPromptError(requestId, "the logged prompt does not match the recorded hash");
  return prompt;
}

/** Throws ConsensusModelMismatchError unless task `taskId` is for the model `served`. */
export async function assertTaskModel(seat: NodeSeat, taskId: bigint, served: string): Promise<void> {
  const task = await getTask(seat, taskId);
  if (task.modelId.toLowerCase() !== modelIdOf(served).toLowerCase())
    throw new ConsensusModelMismatchError(taskId, served);
}
