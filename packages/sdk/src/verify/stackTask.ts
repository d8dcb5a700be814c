import { getTask, modelIdOf, stackManagerAbi } from "@atoma/chain/portable";
import type { Hex } from "viem";
import type { Check } from "./verdict.js";
import type { VerifyArguments } from "./verifyArguments.js";

/** What the chain says a stack was bought for: its task's model (H(name)) and the stack's security level. */
export interface StackTask {
  taskId: bigint;
  modelId: Hex;
  securityLevel: number;
}

/** Reads the stack's task (through the StackManager's own TaskRegistry) and the security level it was bought at. */
export async function readStackTask(args: VerifyArguments, stackId: bigint): Promise<StackTask> {
  const { publicClient, addresses } = args.chain;
  const [stack, TaskRegistry] = await Promise.all([
    publicClient.readContract({
      address: addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "getStack",
      args: [stackId],
    }),
    publicClient.readContract({
      address: addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "taskRegistry",
    }),
  ]);
  const taskId = BigInt(stack.taskId);
  const task = await getTask({ publicClient, addresses: { TaskRegistry } }, taskId);
  return { taskId, modelId: task.modelId, securityLevel: Number(stack.securityLevel) };
}

/** The model the request given names (the body's `model`), when one was given. */
function modelAsked(args: VerifyArguments): string | undefined {
  const body = args.request.body;
  if (typeof body !== "object" || body === null) return undefined;
  const model = (body as { model?: unknown }).model;
  return typeof model === "string" ? model : undefined;
}

/**
 * Why the stack's task does not serve the model the request asks for, or not at the security level asked for (at
 * least): else an answer from a cheaper model or an unverified task could pass for the one paid for. Undefined when
 * it does, or when neither was given.
 */
export function taskFailure(args: VerifyArguments, task: StackTask): Check | undefined {
  const model = modelAsked(args);
  const fail = (code: "model_mismatch" | "security_level_low", reason: string): Check => ({
    name: "stack",
    status: "fail",
    code,
    reason,
  });
  if (model !== undefined && task.modelId.toLowerCase() !== modelIdOf(model).toLowerCase())
    return fail("model_mismatch", `the stack's task ${task.taskId} serves another model than ${model}`);
  if (args.securityLevel !== undefined && task.securityLevel < args.securityLevel)
    return fail(
      "security_level_low",
      `the stack was bought at security level ${task.securityLevel}, below the ${args.securityLevel} asked for`,
    );
  return undefined;
}
