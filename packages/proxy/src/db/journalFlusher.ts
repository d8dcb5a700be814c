import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Logger, silentLogger } from "@atoma/core";
import { applyJournalBatch } from "./applyJournal.js";
import { Journal } from "./journal.js";
import { holdLockFile } from "./lockFile.js";
import type { GatewayDb } from "./openGatewayDatabase.js";

export interface JournalFlusherOptions {
  /** Where this gateway's journal lives (each gateway its own); none: memory only (tests). */
  dir?: string | undefined;
  /** How often the flusher looks for pending records. @default 250 */
  intervalMs?: number | undefined;
  /**
   * How long pending records may wait while requests are in flight (`start`'s `quiet` says when none is): the
   * database work is left to a quiet moment, off the requests' path, but never longer than this. @default 1000
   */
  maxDelayMs?: number | undefined;
  /**
   * How long pending records wait at least, quiet or not: each transaction costs a dozen statements whatever its
   * size (with the embedded database, synchronous work on the requests' thread), so records gather into batches
   * rather than going one request's at a time. Capped at `maxDelayMs`. @default 750
   */
  minDelayMs?: number | undefined;
  /** Records per transaction at most. @default 500 */
  batch?: number | undefined;
  logger?: Logger | undefined;
}

/**
 * Applies the journal to the database in the background: each batch and the position it reaches commit in one
 * transaction, so every record is applied exactly once, whenever the process dies. Opening replays what a
 * previous run of this gateway (same directory) journaled and did not apply.
 */
export class JournalFlusher {
  readonly journal: Journal;
  /** Which gateway this is (kept in its directory): its journal position in the database. */
  readonly gatewayId: string;
  readonly #db: GatewayDb;
  readonly #batch: number;
  readonly #intervalMs: number;
  readonly #maxDelayMs: number;
  readonly #minDelayMs: number;
  readonly #logger: Logger;
  readonly #letGo: () => void;
  #running: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  /** A flush the timer started is under way. */
  #ticking = false;

  private constructor(
    db: GatewayDb,
    journal: Journal,
    gatewayId: string,
    letGo: () => void,
    options: JournalFlusherOptions,
  ) {
    this.#db = db;
    this.journal = journal;
    this.gatewayId = gatewayId;
    this.#letGo = letGo;
    this.#batch = options.batch ?? 500;
    this.#intervalMs = options.intervalMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 1_000;
    this.#minDelayMs = Math.min(options.minDelayMs ?? 750, this.#maxDelayMs);
    this.#logger = (options.logger ?? silentLogger).child({ module: "journal" });
  }

  /** Opens the journal in `options.dir` (one process at a time) and applies what it still holds. */
  static async open(db: GatewayDb, options: JournalFlusherOptions = {}): Promise<JournalFlusher> {
    const { dir } = options;
    let gatewayId: string = randomUUID();
    let letGo = () => {};
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      letGo = holdLockFile(join(dir, "journal.lock"));
      const idFile = join(dir, "gateway-id");
      if (existsSync(idFile)) gatewayId = readFileSync(idFile, "utf8").trim();
      else writeFileSync(idFile, gatewayId, { mode: 0o600 });
    }
    try {
      const row = await db
        .selectFrom("journal_positions")
        .select("applied_seq")
        .where("gateway_id", "=", gatewayId)
        .executeTakeFirst();
      const journal = new Journal(dir && join(dir, "journal.jsonl"), Number(row?.applied_seq ?? 0n));
      const flusher = new JournalFlusher(db, journal, gatewayId, letGo, options);
      const replayed = journal.pendingCount;
      await flusher.flush();
      if (replayed > 0) flusher.#logger.info({ records: replayed }, "replayed the journal");
      return flusher;
    } catch (error) {
      letGo();
      throw error;
    }
  }

  /**
   * Looks every `intervalMs`: applies pending records once they waited `minDelayMs` and `quiet()`, and at the latest
   * `maxDelayMs` after they came.
   */
  start(quiet: () => boolean = () => true): void {
    this.#timer ??= setInterval(() => {
      const since = this.journal.pendingSince;
      // One at a time from the timer: a slow flush on a loaded machine queued one more per tick behind it, several
      // transactions a second.
      if (since === undefined || this.#ticking) return;
      const waited = performance.now() - since;
      if (waited >= this.#maxDelayMs || (waited >= this.#minDelayMs && quiet())) {
        this.#ticking = true;
        this.flush()
          .catch((error: unknown) =>
            this.#logger.warn({ err: error }, "applying the journal failed: retrying"),
          )
          .finally(() => {
            this.#ticking = false;
          });
      }
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Applies every record pending now (one flush at a time). */
  flush(): Promise<void> {
    const run = this.#running.then(() => this.#applyAll());
    this.#running = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer, applies what is pending, and closes the journal. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.flush();
    } finally {
      this.journal.close();
      this.#letGo();
    }
  }

  /**
   * Applies the records appended before it began, in batches. Those appended meanwhile wait for the next flush: on
   * a busy gateway, following them would run one small transaction after another with no pause.
   */
  async #applyAll(): Promise<void> {
    const upTo = this.journal.lastSeq;
    for (;;) {
      const batch = this.journal.pending(this.#batch).filter((record) => record.seq <= upTo);
      const last = batch.at(-1);
      if (!last) return;
      const swept = await this.#db.transaction().execute(async (tx) => {
        const sweptCharges = await applyJournalBatch(tx, batch, (loss) =>
          // Logged, never silent: the gateway bears what the key's spend could not give back (review 3 of h-gw, LOW).
          this.#logger.warn(
            {
              keyId: loss.keyId,
              stackId: String(loss.stackId),
              backWei: String(loss.backWei),
              spentWei: String(loss.spentWei),
              lostWei: String(loss.backWei - loss.spentWei),
            },
            "a superseded held charge's give-back exceeded the key's spend: its spend set to zero, the rest lost",
          ),
        );
        await tx
          .insertInto("journal_positions")
          .values({ gateway_id: this.gatewayId, applied_seq: last.seq })
          .onConflict((oc) => oc.column("gateway_id").doUpdateSet({ applied_seq: last.seq }))
          .execute();
        return sweptCharges;
      });
      this.journal.applied(last.seq);
      if (swept > 0)
        this.#logger.warn(
          { reservations: swept },
          "a reservation was swept before its request settled: it was charged at its maximum",
        );
    }
  }
}
