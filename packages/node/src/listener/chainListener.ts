import { type Logger, silentLogger } from "@atoma/core";
import { type Address, type Log, type PublicClient, parseEventLogs } from "viem";
import type { NodeDb } from "../db/openStateDatabase.js";
import { ChainReorgError, CursorMovedError } from "../errors.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import { readCursor, writeCursor } from "./cursor.js";
import type { ChainEvent, ChainEventSource, EventWrite } from "./eventSource.js";
import { sleep } from "./sleep.js";

export type ListenerClient = Pick<PublicClient, "getBlockNumber" | "getBlock" | "getLogs">;

export interface ChainListenerComponents {
  db: NodeDb;
  client: ListenerClient;
  logger?: Logger | undefined;
  metrics?: NodeMetrics | undefined;
}

export interface ChainListenerOptions {
  /** The contracts and handlers to follow. */
  sources: ChainEventSource[];
  /** Name of the cursor row; two listeners over one database need different names. @default "contracts" */
  name?: string | undefined;
  /** Blocks an event must be buried under before it is handled. @default 0 */
  confirmations?: number | undefined;
  /** Milliseconds between polls once caught up. @default 1000 */
  pollingIntervalMs?: number | undefined;
  /** Most blocks per `eth_getLogs` call (halved while calls fail, e.g. on a provider's result cap). @default 2000 */
  maxBlockRange?: number | undefined;
  /** First block to read when the database has no cursor yet. @default 0 */
  startBlock?: bigint | undefined;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Follows contract events with `eth_getLogs` over bounded block ranges, `confirmations` blocks behind the head.
 * Each range is handled in one database transaction that also advances the persisted cursor, so after a
 * crash or a stop it resumes where the last committed range ended: no event missed, none handled twice.
 * A failing RPC call or handler rolls the range back and is retried with backoff. A reorg under the cursor
 * (deeper than `confirmations`) is detected by block hash and stops progress with `ChainReorgError` logged.
 * The chain reads some handlers need run before that transaction opens (`ChainReadingHandler`): inside it there are
 * only database statements, so it never holds the database (the embedded store's one connection) on an RPC call.
 */
export class ChainListener {
  readonly #db: NodeDb;
  readonly #client: ListenerClient;
  readonly #logger: Logger;
  readonly #metrics: NodeMetrics | undefined;
  readonly #sources: ChainEventSource[];
  readonly #name: string;
  readonly #confirmations: bigint;
  readonly #pollingIntervalMs: number;
  readonly #maxRange: bigint;
  readonly #startBlock: bigint;
  #range: bigint;
  #nextBlock: bigint | undefined;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #waiters: { block: bigint; resolve: () => void }[] = [];

  constructor(components: ChainListenerComponents, options: ChainListenerOptions) {
    this.#db = components.db;
    this.#client = components.client;
    this.#metrics = components.metrics;
    this.#sources = options.sources;
    this.#name = options.name ?? "contracts";
    this.#logger = (components.logger ?? silentLogger).child({
      module: "chain-listener",
      listener: this.#name,
    });
    this.#confirmations = BigInt(options.confirmations ?? 0);
    this.#pollingIntervalMs = options.pollingIntervalMs ?? 1_000;
    this.#maxRange = BigInt(options.maxBlockRange ?? 2_000);
    this.#range = this.#maxRange;
    this.#startBlock = options.startBlock ?? 0n;
  }

  /** First block not yet handled (known once started). */
  get nextBlock(): bigint | undefined {
    return this.#nextBlock;
  }

  /** Loads the cursor and starts following the chain in the background. */
  async start(): Promise<void> {
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#nextBlock = (await readCursor(this.#db, this.#name))?.nextBlock ?? this.#startBlock;
    this.#logger.info({ nextBlock: this.#nextBlock }, "chain listener started");
    this.#loop = this.#run();
  }

  /** Stops polling; a range being handled finishes (or rolls back) first. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#loop = undefined;
    this.#logger.info({ nextBlock: this.#nextBlock }, "chain listener stopped");
  }

  /** Resolves once every block up to and including `block` has been handled, or after `timeoutMs` (false). */
  waitForBlock(block: bigint, timeoutMs = 30_000): Promise<boolean> {
    if (this.#nextBlock !== undefined && this.#nextBlock > block) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        resolve(false);
      }, timeoutMs);
      const entry = {
        block,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(entry);
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const progressed = await this.poll();
        failures = 0;
        if (!progressed) await sleep(this.#pollingIntervalMs, signal);
      } catch (error) {
        failures++;
        this.#metrics?.chainErrors.inc({ listener: this.#name });
        const delay = Math.min(this.#pollingIntervalMs * 2 ** Math.min(failures, 10), MAX_BACKOFF_MS);
        this.#logger[error instanceof ChainReorgError ? "error" : "warn"](
          { err: error, nextBlock: this.#nextBlock, retryInMs: delay },
          "chain listener step failed",
        );
        await sleep(delay, signal);
      }
    }
  }

  /**
   * Handles the next range of confirmed blocks, if any. Returns whether it made progress. `start()` calls it in
   * a loop; call it directly only on a listener that is not started.
   */
  async poll(): Promise<boolean> {
    const from = this.#nextBlock ?? (await readCursor(this.#db, this.#name))?.nextBlock ?? this.#startBlock;
    const head = await this.#client.getBlockNumber({ cacheTime: 0 });
    const safe = head - this.#confirmations;
    if (from > safe) return false;
    const to = from + this.#range - 1n < safe ? from + this.#range - 1n : safe;
    let logs: Log[] = [];
    try {
      const address = this.#addresses();
      // Without an address filter eth_getLogs returns every contract's logs: ask only when something listens.
      if (address.length > 0) logs = await this.#client.getLogs({ address, fromBlock: from, toBlock: to });
    } catch (error) {
      if (this.#range > 1n) this.#range /= 2n;
      throw error;
    }
    const [parent, last] = await Promise.all([
      from > 0n ? this.#client.getBlock({ blockNumber: from - 1n }) : undefined,
      this.#client.getBlock({ blockNumber: to }),
    ]);
    const events = this.#decode(logs);
    const writes = await this.#prepare(events);
    await this.#db.transaction().execute(async (trx) => {
      const cursor = await readCursor(trx, this.#name, true);
      if ((cursor?.nextBlock ?? this.#startBlock) !== from) throw new CursorMovedError(this.#name);
      if (cursor?.lastBlockHash && parent && cursor.lastBlockHash !== parent.hash)
        throw new ChainReorgError(
          `block ${from - 1n} changed under the cursor (was ${cursor.lastBlockHash}, now ${parent.hash}); raise chain.confirmations`,
        );
      for (const write of writes) await write({ db: trx });
      await writeCursor(trx, this.#name, { nextBlock: to + 1n, lastBlockHash: last.hash });
    });
    this.#nextBlock = to + 1n;
    if (this.#range < this.#maxRange)
      this.#range = this.#range * 2n > this.#maxRange ? this.#maxRange : this.#range * 2n;
    for (const { source, event } of events)
      this.#metrics?.chainEvents.inc({ listener: source.name, event: event.eventName });
    this.#metrics?.chainBlock.set({ listener: this.#name }, Number(to));
    if (events.length > 0) this.#logger.debug({ from, to, events: events.length }, "handled chain events");
    this.#notify();
    return true;
  }

  /**
   * Each event's writes, in chain order. A `ChainReadingHandler`'s chain reads run here, before the transaction:
   * only database writes run inside it, so a slow RPC never holds the node's connection (review M1).
   */
  async #prepare(events: { source: ChainEventSource; event: ChainEvent }[]): Promise<EventWrite[]> {
    const writes: EventWrite[] = [];
    for (const { source, event } of events) {
      const handler = source.handlers[event.eventName];
      if (!handler) continue;
      if (typeof handler === "function") writes.push((context) => handler(event, context));
      else {
        const write = await handler.read(event);
        if (write) writes.push(write);
      }
    }
    return writes;
  }

  #addresses(): Address[] {
    return [...new Set(this.#sources.map((source) => source.address.toLowerCase() as Address))];
  }

  /** Decodes each log with every source on its address, in chain order (block, then log index). */
  #decode(logs: Log[]): { source: ChainEventSource; event: ChainEvent }[] {
    const ordered = logs
      .filter((log) => !log.removed)
      .sort((a, b) =>
        a.blockNumber === b.blockNumber
          ? (a.logIndex ?? 0) - (b.logIndex ?? 0)
          : (a.blockNumber ?? 0n) < (b.blockNumber ?? 0n)
            ? -1
            : 1,
      );
    const decoded: { source: ChainEventSource; event: ChainEvent }[] = [];
    for (const log of ordered) {
      for (const source of this.#sources) {
        if (source.address.toLowerCase() !== log.address.toLowerCase()) continue;
        const [event] = parseEventLogs({ abi: source.abi, logs: [log], strict: true });
        if (event) decoded.push({ source, event: event as unknown as ChainEvent });
      }
    }
    return decoded;
  }

  #notify(): void {
    const next = this.#nextBlock ?? 0n;
    const ready = this.#waiters.filter((waiter) => waiter.block < next);
    this.#waiters = this.#waiters.filter((waiter) => waiter.block >= next);
    for (const waiter of ready) waiter.resolve();
  }
}
