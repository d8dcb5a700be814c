import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { keccak256, toHex } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { openStateDatabase } from "../db/openStateDatabase.js";
import { moveServedStack } from "../settlement/settlementRows.js";
import { isDenied, recordDenial } from "./deniedLeaves.js";

const root = mkdtempSync(join(tmpdir(), "atoma-denied-leaves-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const url = process.env.DATABASE_URL || undefined;
const H = keccak256(toHex("the denied request"));

// Issue 12, denied leaves: the node's record of each request it signed a denial for (`denied_leaves`, migration 0013
// on PostgreSQL, 0014 on SQLite) survives the database being closed and opened again (a restart).
describe.each([
  { name: "embedded", config: () => ({ kind: "embedded" as const, dir: join(root, "db") }), skip: false },
  {
    name: "postgres",
    config: () => ({
      kind: "postgres" as const,
      url: url ?? "",
      schema: `atoma_denied_${process.pid}_${randomBytes(4).toString("hex")}`,
      poolSize: 2,
    }),
    skip: url === undefined,
  },
])("denied leaves ($name database)", ({ config, skip }) => {
  it.skipIf(skip)("are kept past a reopen, per stack, nonce and request", async () => {
    const at = config();
    const first = await openStateDatabase(at);
    await recordDenial(first.db, 5n, 3n, H.toUpperCase().replace("0X", "0x"));
    await recordDenial(first.db, 5n, 3n, H);
    await first.close();
    const again = await openStateDatabase(at);
    try {
      expect(await isDenied(again.db, 5n, 3n, H)).toBe(true);
      expect(await isDenied(again.db, 5n, 4n, H)).toBe(false);
      expect(await isDenied(again.db, 6n, 3n, H)).toBe(false);
      expect(await isDenied(again.db, 5n, 3n, keccak256(toHex("another")))).toBe(false);
      // Once its stack is settled nothing can be committed to it: its records go (another stack's stay).
      await recordDenial(again.db, 6n, 1n, H);
      for (const stackId of [5n, 6n])
        await again.db
          .insertInto("stacks")
          .values({
            stack_id: stackId,
            owner: `0x${"11".repeat(20)}`,
            task_id: 1n,
            serving_node_id: 1n,
            units_bought: 1_000n,
            price_per_million: 1n,
            expires_at: 0n,
          })
          .execute();
      expect(await moveServedStack(again.db, { stackId: 5n, servingNodeId: 1n }, ["active"], "settled")).toBe(
        true,
      );
      expect(await isDenied(again.db, 5n, 3n, H)).toBe(false);
      expect(await isDenied(again.db, 6n, 1n, H)).toBe(true);
    } finally {
      if (at.kind === "postgres") await sql.raw(`drop schema "${at.schema}" cascade`).execute(again.db);
      await again.close();
    }
  });
});
