import { attestationStanding, getTask, modelIdOf, readStack, SecurityLevel } from "@atoma/chain/portable";
import { ResponseVerificationError } from "../errors.js";
import type { readContext } from "../network.js";

/** What a gateway's session says about where the sealed request will go. */
export interface SessionPlacement {
  node_id: string;
  task_id: string;
  stack_id: string;
}

/**
 * The session's task, read from the chain rather than taken from the gateway: the stack it names is on that task and
 * at that node, the task is a level-3 task of the model asked for, and the registry stands the node on it ("Ok": its
 * record current, its measurement on the task's or model's allow-list, dev evidence only where the task allows it).
 * A gateway naming another task, another node's stack, or a node the allow-list no longer takes is refused before
 * anything is sealed. Returns the task id.
 */
export async function checkSessionTask(
  chain: ReturnType<typeof readContext>,
  session: SessionPlacement,
  model: string,
): Promise<bigint> {
  const fail = (why: string) => new ResponseVerificationError(`the gateway's session ${why}`);
  const id = (value: unknown) => typeof value === "string" && /^\d{1,78}$/.test(value);
  if (!id(session.task_id)) throw fail("names no task");
  if (!id(session.stack_id) || !id(session.node_id)) throw fail("names no stack or node");
  const taskId = BigInt(session.task_id);
  const nodeId = BigInt(session.node_id);
  const stack = await readStack(chain.publicClient, chain.addresses.StackManager, BigInt(session.stack_id));
  if (!stack) throw fail(`names stack ${session.stack_id}, which the chain does not hold`);
  if (stack.taskId !== taskId) throw fail(`names task ${taskId}, but its stack is on task ${stack.taskId}`);
  if (stack.nodeId !== nodeId) throw fail(`names node ${nodeId}, but its stack is node ${stack.nodeId}'s`);
  const task = await getTask(chain, taskId);
  if (task.securityLevel !== SecurityLevel.Confidential)
    throw fail(`is on task ${taskId}, which is not a confidential (level-3) task`);
  if (task.modelId.toLowerCase() !== modelIdOf(model).toLowerCase())
    throw fail(`is on task ${taskId}, which serves another model than ${model}`);
  const standing = await attestationStanding(chain, { taskId, nodeId });
  if (standing !== "Ok")
    throw fail(`is at node ${nodeId}, which task ${taskId} does not take now (${standing})`);
  return taskId;
}
