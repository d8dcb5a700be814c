import { type AtomaPublicClient, taskRegistryAbi } from "@atoma/chain/portable";
import type { Address, Hex } from "viem";
import { checkedFromBlock } from "./deploymentBlock.js";
import {
  decodeTaskLogs,
  encodeTaskLogs,
  type ModelTaskLogs,
  type SubscriptionLog,
  type TaskLogStore,
  taskLogKey,
} from "./taskLogCache.js";

/** Task ids per log query: each is one topic of the filter. */
const TOPICS_PER_QUERY = 128;

/**
 * The blocks under the head that a lookup reads again each time and never keeps: a load-balanced RPC may answer
 * `eth_getLogs` for its newest blocks from a backend a block or more behind (no logs, no error), so a log missed there
 * would be missed for good once kept (review F7). Twelve blocks are a couple of minutes on most chains and, on a dev
 * chain mining a block per transaction, the last twelve transactions: cheap to read again.
 */
export const TASK_LOG_CONFIRMATIONS = 12n;

/**
 * The logs of `modelId`'s tasks from `fromBlock` to the head: `TaskCreated` of the model (an indexed topic), then
 * `TaskDeactivated` and the subscription logs of those tasks only (their ids as topics), all up to one head block
 * read first (`fromBlock` is checked to be the registry's deployment, else 0 is: `checkedFromBlock`). With `store`, what was read up to `TASK_LOG_CONFIRMATIONS` blocks under the head is kept, and later
 * lookups read only the blocks since it (the last `TASK_LOG_CONFIRMATIONS` always again), once the last block it
 * holds is still the chain's at its height (its hash): after a reorg under it, or a chain reset, everything is read
 * afresh. A read whose last kept block is no longer the chain's when it ends is returned but not kept.
 */
export async function modelTaskLogs(
  publicClient: AtomaPublicClient,
  registry: Address,
  modelId: Hex,
  given: bigint,
  store?: TaskLogStore,
): Promise<ModelTaskLogs> {
  const fromBlock = await checkedFromBlock(publicClient, registry, given);
  const head = await publicClient.getBlock({ blockTag: "latest" });
  if (head.number === null || head.hash === null) throw new Error("the RPC gave a pending block as the head");
  const at = { block: head.number, hash: head.hash };
  if (store === undefined) return readSince(publicClient, registry, modelId, fromBlock, at, undefined);
  const chainId = publicClient.chain?.id ?? (await publicClient.getChainId());
  const key = taskLogKey(chainId, registry, modelId, fromBlock);
  const kept = decodeTaskLogs(await store.get(key));
  const base =
    kept !== undefined && kept.block <= at.block && (await canonical(publicClient, kept.block, kept.hash))
      ? kept
      : undefined;
  const settledAt = at.block - TASK_LOG_CONFIRMATIONS;
  if (settledAt < fromBlock || (base !== undefined && base.block >= settledAt))
    return readSince(publicClient, registry, modelId, fromBlock, at, base);
  const settledBlock = await publicClient.getBlock({ blockNumber: settledAt });
  if (settledBlock.hash === null) throw new Error("the RPC gave a block with no hash");
  const settled = { block: settledAt, hash: settledBlock.hash };
  const stable = await readSince(publicClient, registry, modelId, fromBlock, settled, base);
  if (await canonical(publicClient, settled.block, settled.hash))
    await store.set(key, encodeTaskLogs(stable));
  return readSince(publicClient, registry, modelId, fromBlock, at, stable);
}

/** Whether the block at `number` is still `hash` (false when the chain is shorter now). */
async function canonical(publicClient: AtomaPublicClient, number: bigint, hash: string): Promise<boolean> {
  const block = await publicClient.getBlock({ blockNumber: number }).catch(() => undefined);
  return block?.hash?.toLowerCase() === hash.toLowerCase();
}

/** `base`'s logs and those after it (from `fromBlock` without one) up to `at`. */
async function readSince(
  publicClient: AtomaPublicClient,
  registry: Address,
  modelId: Hex,
  fromBlock: bigint,
  at: { block: bigint; hash: string },
  base: ModelTaskLogs | undefined,
): Promise<ModelTaskLogs> {
  const range = { fromBlock: base === undefined ? fromBlock : base.block + 1n, toBlock: at.block };
  const empty = { ...at, created: [], deactivated: [], subscriptions: [] };
  if (range.fromBlock > range.toBlock) return { ...(base ?? empty), ...at };
  const created = await publicClient.getContractEvents({
    address: registry,
    abi: taskRegistryAbi,
    eventName: "TaskCreated",
    args: { modelId },
    ...range,
    strict: true,
  });
  const tasks = [
    ...(base?.created ?? []),
    ...created.map((log) => ({
      taskId: log.args.taskId,
      securityLevel: Number(log.args.securityLevel),
      role: Number(log.args.role),
    })),
  ];
  // Only this model's tasks' logs are read (their ids as topics): another model's tasks cost the lookup nothing.
  const ids = tasks.map((t) => t.taskId);
  const [deactivated, subscribed, exiting, unsubscribed] = await Promise.all(
    (["TaskDeactivated", "Subscribed", "ExitStarted", "Unsubscribed"] as const).map((eventName) =>
      eventsOfTasks(publicClient, registry, eventName, ids, range),
    ),
  );
  const subscription = (live: boolean) => (log: LogOfTask) => ({
    taskId: log.args.taskId,
    nodeId: log.args.nodeId ?? 0n,
    live,
    blockNumber: log.blockNumber,
    logIndex: log.logIndex,
  });
  const subscriptions: SubscriptionLog[] = [
    ...(base?.subscriptions ?? []),
    ...(subscribed ?? []).map(subscription(true)),
    ...[...(exiting ?? []), ...(unsubscribed ?? [])].map(subscription(false)),
  ];
  return {
    ...at,
    created: tasks,
    deactivated: [...(base?.deactivated ?? []), ...(deactivated ?? []).map((log) => log.args.taskId)],
    subscriptions,
  };
}

interface LogOfTask {
  args: { taskId: bigint; nodeId?: bigint };
  blockNumber: bigint;
  logIndex: number;
}

/** The logs of `eventName` for the tasks `taskIds` (the indexed `taskId` topic), in queries of bounded size. */
async function eventsOfTasks(
  publicClient: AtomaPublicClient,
  address: Address,
  eventName: "TaskDeactivated" | "Subscribed" | "ExitStarted" | "Unsubscribed",
  taskIds: bigint[],
  range: { fromBlock: bigint; toBlock: bigint },
): Promise<LogOfTask[]> {
  const logs = [];
  for (let at = 0; at < taskIds.length; at += TOPICS_PER_QUERY)
    logs.push(
      ...(await publicClient.getContractEvents({
        address,
        abi: taskRegistryAbi,
        eventName,
        args: { taskId: taskIds.slice(at, at + TOPICS_PER_QUERY) },
        ...range,
        strict: true,
      })),
    );
  return logs as LogOfTask[];
}
