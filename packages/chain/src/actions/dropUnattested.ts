import { taskRegistryAbi } from "@atoma/contracts";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/**
 * Anyone puts the node's confidential subscriptions on exit notice once the attestation registry no longer
 * accepts it (record expired, measurement or dev kind no longer allowed): of one task when `taskId` is given,
 * else of all of them in one bounded pass. Returns the tasks dropped. Reverts `AttestationCurrent` (one task) or
 * `NothingToDrop` (all) while the node is accepted.
 */
export async function dropUnattested(
  ctx: ChainContext,
  params: { nodeId: bigint; taskId?: bigint | undefined },
): Promise<TxInfo & { taskIds: bigint[] }> {
  const receipt = await execute(
    ctx,
    params.taskId === undefined
      ? {
          address: ctx.addresses.TaskRegistry,
          abi: taskRegistryAbi,
          functionName: "dropUnattestedAll",
          args: [params.nodeId],
        }
      : {
          address: ctx.addresses.TaskRegistry,
          abi: taskRegistryAbi,
          functionName: "dropUnattested",
          args: [params.taskId, params.nodeId],
        },
  );
  const taskIds = parseEventLogs({
    abi: taskRegistryAbi,
    eventName: "UnattestedDropped",
    logs: receipt.logs,
  }).map((log) => log.args.taskId);
  return { ...txInfo(receipt), taskIds };
}
