import { type Logger, silentLogger } from "@atoma/core";
import type { Kysely } from "kysely";
import { databaseNowMs } from "../db/databaseClock.js";
import type { GatewayDatabase } from "../db/schema.js";
import type { NodeHealthBook } from "./nodeHealthBook.js";

/** Node reasons longer than this are cut: a reason is a code, never a node's text. */
const REASON_MAX = 64;

/**
 * The nodes taken out of rotation for good (a receipt that failed verification, a bill for an error answer, requests
 * left unanswered, cuts past the limit), kept in the gateway's database: a restart, or another gateway on the same
 * PostgreSQL without Redis, does not put them back. `restore` reads them into a health book (at start, and on a timer
 * for other gateways' removals); `keep` writes each removal the book decides.
 */
export class RemovedNodes {
  readonly #db: Kysely<GatewayDatabase>;
  readonly #logger: Logger;
  #writing: Promise<void> = Promise.resolve();
  /** Removals whose write failed (the book never decides them again): written again by each `restore`. */
  readonly #unwritten = new Map<bigint, string>();

  constructor(db: Kysely<GatewayDatabase>, logger: Logger = silentLogger) {
    this.#db = db;
    this.#logger = logger.child({ module: "removed-nodes" });
  }

  /**
   * Writes the removals a failed write left, then takes every kept removal out of `book`'s rotation (as news from
   * another gateway: not written again).
   */
  async restore(book: NodeHealthBook): Promise<void> {
    for (const [nodeId, reason] of this.#unwritten) this.#write(nodeId, reason);
    await this.#writing;
    const rows = await this.#db.selectFrom("removed_nodes").select(["node_id", "reason"]).execute();
    for (const row of rows) book.apply({ kind: "removed", nodeId: BigInt(row.node_id), reason: row.reason });
  }

  /** Writes each removal `book` decides from now on (in the background, one after another; a failure is logged). */
  keep(book: NodeHealthBook): void {
    book.listen((event) => {
      if (event.kind === "removed") this.#write(event.nodeId, event.reason.slice(0, REASON_MAX));
    });
  }

  #write(nodeId: bigint, reason: string): void {
    this.#unwritten.delete(nodeId);
    this.#writing = this.#writing
      .then(() =>
        this.#db
          .insertInto("removed_nodes")
          .values({ node_id: nodeId, reason, at_ms: databaseNowMs() })
          .onConflict((oc) => oc.column("node_id").doNothing())
          .execute(),
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.#unwritten.set(nodeId, reason);
          this.#logger.error(
            { err: error, nodeId: String(nodeId) },
            "keeping a node's removal failed: written again at the next read of the removals",
          );
        },
      );
  }

  /** Resolves once every removal written so far is in the database (or its failure logged). */
  settled(): Promise<void> {
    return this.#writing;
  }
}
