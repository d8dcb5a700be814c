/**
 * Where a model's task logs, once read, are kept (text by key): a `Map` for one process (`memoryTaskLogStore`), or
 * a caller's lasting store (a file, `localStorage`) so that a client started again reads only the blocks since.
 */
export interface TaskLogStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

/** A store for one process; `maxEntries` (one per model and registry read) bounds it, the oldest dropped first. */
export function memoryTaskLogStore(maxEntries = 64): TaskLogStore {
  const entries = new Map<string, string>();
  return {
    get: (key) => entries.get(key),
    set: (key, value) => {
      entries.delete(key);
      entries.set(key, value);
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries) break;
        entries.delete(oldest);
      }
    },
  };
}

/** A task of the model as its `TaskCreated` log says. */
export interface CreatedTask {
  taskId: bigint;
  securityLevel: number;
  role: number;
}

/** A subscription's log: `Subscribed` (live) or `ExitStarted` / `Unsubscribed` (ended), and where it stands. */
export interface SubscriptionLog {
  taskId: bigint;
  nodeId: bigint;
  live: boolean;
  blockNumber: bigint;
  logIndex: number;
}

/** A model's task logs up to `block` (whose hash was `hash` when they were read). */
export interface ModelTaskLogs {
  block: bigint;
  hash: string;
  created: CreatedTask[];
  deactivated: bigint[];
  subscriptions: SubscriptionLog[];
}

/**
 * The key of a model's logs: the chain, the registry and the first block read, so that nothing read on another
 * chain, deployment or range is taken for them. The last block read and its hash are in the entry, checked before use.
 */
export function taskLogKey(chainId: number, registry: string, modelId: string, fromBlock: bigint): string {
  return `atoma-task-logs:${chainId}:${registry.toLowerCase()}:${modelId.toLowerCase()}:${fromBlock}`;
}

/** The entry as text: bigints as decimal strings. */
export function encodeTaskLogs(logs: ModelTaskLogs): string {
  return JSON.stringify(logs, (_, value) => (typeof value === "bigint" ? value.toString() : value));
}

/** The entry read back; undefined when it is not what `encodeTaskLogs` wrote (then the logs are read afresh). */
export function decodeTaskLogs(text: string | undefined): ModelTaskLogs | undefined {
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as {
      block: string;
      hash: string;
      created: { taskId: string; securityLevel: number; role: number }[];
      deactivated: string[];
      subscriptions: {
        taskId: string;
        nodeId: string;
        live: boolean;
        blockNumber: string;
        logIndex: number;
      }[];
    };
    if (typeof raw.hash !== "string" || !/^0x[0-9a-f]{64}$/i.test(raw.hash)) return undefined;
    return {
      block: BigInt(raw.block),
      hash: raw.hash,
      created: raw.created.map((t) => ({
        taskId: BigInt(t.taskId),
        securityLevel: Number(t.securityLevel),
        role: Number(t.role),
      })),
      deactivated: raw.deactivated.map((id) => BigInt(id)),
      subscriptions: raw.subscriptions.map((s) => ({
        taskId: BigInt(s.taskId),
        nodeId: BigInt(s.nodeId),
        live: s.live === true,
        blockNumber: BigInt(s.blockNumber),
        logIndex: Number(s.logIndex),
      })),
    };
  } catch {
    return undefined;
  }
}
