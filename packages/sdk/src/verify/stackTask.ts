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

/**
 * The model the request given names (the body's `model`); without one, the model of the `atoma_request` the
 * response carries (the request hash check fails when the receipt is not for it).
 */
function modelAsked(args: VerifyArguments): string | undefined {
  const body = args.request.given ? args.request.body : args.response.atoma_request;
  if (typeof body !== "object" || body === null) return undefined;
  const model = (body as { model?: unknown }).model;
  return typeof model === "string" ? model : undefined;
}

/**
 * That the stack's task serves the model the request asks for (`task`), and at the security level asked for at
 * least (`security_level`): else an answer from a cheaper model or an unverified task could pass for the one paid
 * for. Each is left out when what it checks against was not given (the request's model, a level).
 */
export function taskChecks(args: VerifyArguments, task: StackTask): Check[] {
  const checks: Check[] = [];
  const model = modelAsked(args);
  if (model !== undefined)
    checks.push(
      task.modelId.toLowerCase() === modelIdOf(model).toLowerCase()
        ? { name: "task", status: "pass", reason: `the stack's task ${task.taskId} serves ${model}` }
        : {
            name: "task",
            status: "fail",
            code: "model_mismatch",
            reason: `the stack's task ${task.taskId} serves another model than ${model}`,
          },
    );
  if (args.securityLevel !== undefined)
    checks.push(
      task.securityLevel >= args.securityLevel
        ? {
            name: "security_level",
            status: "pass",
            reason: `the stack was bought at security level ${task.securityLevel}, ${args.securityLevel} at least asked`,
          }
        : {
            name: "security_level",
            status: "fail",
            code: "security_level_low",
            reason: `the stack was bought at security level ${task.securityLevel}, below the ${args.securityLevel} asked for`,
          },
    );
  return checks;
}
