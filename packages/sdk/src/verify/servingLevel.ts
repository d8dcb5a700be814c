import { SecurityLevel, stackManagerAbi } from "@atoma/chain/portable";
import { ModelTasksCrowdedError, SecurityLevelUnknownError } from "../errors.js";
import { type ServingTerms, servedTasks } from "./modelTasks.js";
import type { VerifyChain } from "./verifyArguments.js";

/**
 * The lowest security level an answer for `model` may have when the caller named none: the highest level among
 * the model's active tasks that a node serves now (`servedTasks`: eligible, with the peers a verified task needs,
 * whatever its room or price), confidential tasks aside (they take only sealed requests). Room is not asked for: a gateway that fills the verified task's nodes,
 * or waits until they are busy, must not make a cheaper level pass. Anyone may create a task for a model; only one
 * a node has bonded collateral to counts. Throws `SecurityLevelUnknownError` when the chain cannot be read or no
 * task serves the model in clear: never a level read as "any". `terms` (a caller's price cap, its units) count
 * only nodes that could serve that caller (see `servedTasks`); a gateway's client gives none.
 */
export async function servingSecurityLevel(
  chain: VerifyChain,
  model: string,
  terms: ServingTerms = {},
): Promise<number> {
  let levels: number[];
  try {
    const TaskRegistry = await chain.publicClient.readContract({
      address: chain.addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "taskRegistry",
    });
    const contracts = { TaskRegistry, StackManager: chain.addresses.StackManager };
    const served = await servedTasks(
      chain.publicClient,
      contracts,
      model,
      chain.fromBlock ?? 0n,
      terms,
      chain.taskLogs,
    );
    levels = served.map((t) => t.securityLevel);
  } catch (cause) {
    if (cause instanceof ModelTasksCrowdedError)
      throw new SecurityLevelUnknownError(model, cause.shortMessage, { cause });
    throw new SecurityLevelUnknownError(model, "the chain could not be read", { cause });
  }
  const clear = levels.filter((level) => level !== SecurityLevel.Confidential);
  if (clear.length === 0)
    throw new SecurityLevelUnknownError(model, "no task a node serves now is for it (name securityLevel)");
  return Math.max(...clear);
}
