import {
  getTask,
  modelIdOf,
  offeredNodes,
  SecurityLevel,
  stackManagerAbi,
  taskRegistryAbi,
} from "@atoma/chain/portable";
import { SERVING_ROLES } from "./modelTasks.js";
import type { VerifyChain } from "./verifyArguments.js";

/** The highest cap the contract takes (a uint128): every subscribed node with capacity is offered. */
const ANY_PRICE = 2n ** 128n - 1n;

/**
 * The highest security level among the active tasks of `model` (H(name)) that offer a node now, as a gateway and
 * the non-custodial client pick (confidential tasks aside: they take only sealed requests); undefined when none does. Anyone may create a task for a model: an answer from a
 * lower level than this is one the gateway chose to buy cheaper, not one the network offered.
 * @deprecated What is on offer depends on room a gateway can fill, reads every task ever created and says undefined
 * for "unknown": take `servingSecurityLevel`.
 */
export async function highestLevelOnOffer(chain: VerifyChain, model: string): Promise<number | undefined> {
  const { publicClient, addresses } = chain;
  const TaskRegistry = await publicClient.readContract({
    address: addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "taskRegistry",
  });
  const count = await publicClient.readContract({
    address: TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "taskCount",
  });
  const modelId = modelIdOf(model).toLowerCase();
  let highest: number | undefined;
  for (let taskId = count; taskId >= 1n; taskId--) {
    const task = await getTask({ publicClient, addresses: { TaskRegistry } }, taskId);
    const level = Number(task.securityLevel);
    if (!task.active || task.modelId.toLowerCase() !== modelId) continue;
    // A task of a role no node serves requests on (consensus seats, checking) offers no answer.
    if (!SERVING_ROLES.includes(Number(task.role))) continue;
    // A confidential task serves only sealed requests: it is not on offer to an answer sent in clear.
    if (level === SecurityLevel.Confidential) continue;
    if (highest !== undefined && level <= highest) continue;
    // A task that cannot be served now (no node, too few verifiers) reverts: it offers none.
    const offered = await offeredNodes(
      { publicClient, addresses },
      { taskId, units: 1n, maxPricePerMillion: ANY_PRICE },
    ).catch(() => []);
    if (offered.length > 0) highest = level;
  }
  return highest;
}
