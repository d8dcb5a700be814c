import { taskRegistryAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/** Task roles; the contract accepts 0–15, these are the ones the node serves. */
export const TaskRole = { Chat: 0, Completions: 1, Embeddings: 2 } as const;

export interface CreateTaskParams {
  modelId: Hex;
  role: number;
  securityLevel: number;
  /** Minimum reputation (0–100) of the nodes that may serve it. @default 0 */
  minReputation?: number | undefined;
  /** Level 1 only: replication rate p in parts per million. */
  replicationPpm?: number | undefined;
  /** Level 1 only: attesters sampled when a settlement is checked. */
  attesters?: number | undefined;
  /** Level 1 only: requests of a stack each attester recomputes. */
  sampleSize?: number | undefined;
}

export async function createTask(
  ctx: ChainContext,
  params: CreateTaskParams,
): Promise<TxInfo & { taskId: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "createTask",
    args: [
      params.modelId,
      params.role,
      params.securityLevel,
      params.minReputation ?? 0,
      params.replicationPpm ?? 0,
      params.attesters ?? 0,
      params.sampleSize ?? 0,
    ],
  });
  const event = single(
    parseEventLogs({ abi: taskRegistryAbi, logs: receipt.logs, eventName: "TaskCreated" }),
    "TaskCreated",
  );
  return { ...txInfo(receipt), taskId: event.args.taskId };
}
