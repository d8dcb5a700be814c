import { afterEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { RemovedNodes } from "../src/routing/removedNodes.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const FORGER = 4n;
const HONEST = 5n;

// Issue 12: a node taken out of rotation for good (a receipt that failed verification, a bill for an error answer,
// signed requests left unanswered) was remembered only in memory, or in Redis when one is configured: a gateway
// without Redis that restarted (a crash, a deploy) put the forger back in rotation, and gateways sharing a PostgreSQL
// without Redis never learnt each other's removals. Removals are now kept in the gateway's database.
describe.each(testDatabases().filter((db) => !db.skip))("removed nodes kept ($name)", (database) => {
  let made: TestDatabaseConfig;
  let opened: OpenedDatabase;
  afterEach(async () => {
    await opened?.close();
    await made?.dispose();
  });

  /** A gateway's health book over the database, its removals restored and kept. */
  const gatewayBook = async () => {
    const book = new NodeHealthBook();
    const removed = new RemovedNodes(opened.db);
    await removed.restore(book);
    removed.keep(book);
    return { book, removed };
  };

  it("keeps a node removed past a restart, and tells a second gateway on the same database", async () => {
    made = database.make();
    opened = await openGatewayDatabase(made.config);
    const first = await gatewayBook();
    const second = await gatewayBook();
    first.book.remove(FORGER, "receipt_invalid");
    await first.removed.settled();
    expect(first.book.available(FORGER)).toBe(false);

    // The first gateway restarts: its new book starts with the forger out.
    const restarted = await gatewayBook();
    expect(restarted.book.available(FORGER)).toBe(false);
    expect(restarted.book.available(HONEST)).toBe(true);

    // The second gateway, running all along, learns it at its next refresh.
    expect(second.book.available(FORGER)).toBe(true);
    await second.removed.restore(second.book);
    expect(second.book.available(FORGER)).toBe(false);
    expect(second.book.available(HONEST)).toBe(true);
  });

  it("writes a removal whose write failed at its next read of the removals", async () => {
    made = database.make();
    opened = await openGatewayDatabase(made.config);
    const { book, removed } = await gatewayBook();
    // The table is gone for a moment (a failover, a lock): the write fails, the book has the node out already.
    await opened.db.schema.alterTable("removed_nodes").renameTo("removed_nodes_away").execute();
    book.remove(FORGER, "receipt_invalid");
    await removed.settled();
    await opened.db.schema.alterTable("removed_nodes_away").renameTo("removed_nodes").execute();
    expect(await opened.db.selectFrom("removed_nodes").select("node_id").execute()).toEqual([]);
    // The 30 s pass writes it, so a restart keeps the forger out.
    await removed.restore(book);
    const restarted = await gatewayBook();
    expect(restarted.book.available(FORGER)).toBe(false);
  });

  it("keeps a removal whatever else listens to the book (Redis's channel), and records it once", async () => {
    made = database.make();
    opened = await openGatewayDatabase(made.config);
    const { book, removed } = await gatewayBook();
    const heard: string[] = [];
    book.onEvent = (event) => heard.push(`${event.kind}:${event.nodeId}`);
    book.remove(FORGER, "receipt_invalid");
    book.remove(FORGER, "receipt_invalid");
    // A removal another gateway told of (applied) is that gateway's to record.
    book.apply({ kind: "removed", nodeId: HONEST, reason: "shared" });
    await removed.settled();
    expect(heard).toEqual([`removed:${FORGER}`]);
    const rows = await opened.db.selectFrom("removed_nodes").select(["node_id", "reason"]).execute();
    expect(rows.map((row) => [BigInt(row.node_id), row.reason])).toEqual([[FORGER, "receipt_invalid"]]);
  });
});
