import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Journal } from "../src/db/journal.js";

const dir = mkdtempSync(join(tmpdir(), "journal-rotation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const charge = (i: number) => ({
  kind: "charge" as const,
  reservationId: `slice-${i}`,
  keyId: "key",
  costWei: "1000",
  usage: { model: "tiny", day: "2030-01-01", tokens: "x".repeat(400) },
});

// After a rotation the journal's descriptor is opened "w" (no O_APPEND). When the pending records later
// run out, `applied` truncates the file to 0 but the descriptor's offset stays where it was: the next record is
// written past a hole of NUL bytes. After a kill -9 the first line reads as NULs + JSON: with two records or more
// the gateway refuses to start ("damaged at line 1"); with one, the record (a charge) is silently dropped.
describe("the journal after a rotation", () => {
  it("replays what was appended after the pending records ran out once the file had rotated", () => {
    const path = join(dir, "journal.jsonl");
    const journal = new Journal(path, 0);
    // Load with the database behind: more than 4 MiB pending.
    for (let i = 1; i <= 10_000; i++) journal.append(charge(i));
    journal.applied(1); // rotates: 9,999 still pending, past 4 MiB
    journal.applied(10_000); // all applied: the file is emptied
    journal.append(charge(10_001));
    journal.append(charge(10_002));
    // kill -9 here: no close.
    let replayed: number | string;
    try {
      replayed = new Journal(path, 10_000).pendingCount;
    } catch (error) {
      replayed = String(error);
    }
    expect(replayed).toBe(2);
  });
});
