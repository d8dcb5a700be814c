import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Journal, readJournal } from "../src/db/journal.js";

/**
 * Review repro (fails today): a process killed mid-`writeSync` leaves a torn last line without its newline. The
 * next run drops it when reading but opens the file in append mode without cutting it off (nothing pending: no
 * flush empties the file), so its first record is written onto the torn bytes; if that run dies too before the
 * flusher empties the file (a second crash, or the database down meanwhile), the record is unreadable and is
 * lost: a charge (an answer never billed) or a receipt (evidence the watcher needs).
 */
describe("review: a torn last journal line never swallows the next run's first record", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps a charge appended after a torn line readable", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-"));
    dirs.push(dir);
    const path = join(dir, "journal.jsonl");
    const applied = { kind: "stack", stackId: "1", unitsUsed: "5", nextNonce: "1", atMs: 1, seq: 1 };
    writeFileSync(path, `${JSON.stringify(applied)}\n`);
    // kill -9 in the middle of the next write
    appendFileSync(path, '{"kind":"charge","reservationId":"gw:abc","keyId":"k1","cos');
    const journal = new Journal(path, 1);
    expect(journal.pendingCount).toBe(0);
    journal.append({ kind: "charge", reservationId: "gw:def", keyId: "k1", costWei: "1000" });
    journal.close(); // the second crash, before the flusher ran
    const charges = readJournal(path).filter((record) => record.kind === "charge");
    expect(charges).toEqual([expect.objectContaining({ reservationId: "gw:def", seq: 2 })]);
  });

  // Review (robustness): the journal grows while the database is away (rotation happens only once records are
  // applied); a restart then computes `Math.max(appliedSeq, ...seqs)` over every record, which throws past ~120k
  // arguments: the gateway cannot start on its own journal.
  it("opens a journal of 200k pending records", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-"));
    dirs.push(dir);
    const path = join(dir, "journal.jsonl");
    const lines: string[] = [];
    for (let seq = 1; seq <= 200_000; seq++)
      lines.push(
        JSON.stringify({
          kind: "stack",
          stackId: "1",
          unitsUsed: String(seq),
          nextNonce: String(seq),
          atMs: 1,
          seq,
        }),
      );
    writeFileSync(path, `${lines.join("\n")}\n`);
    const journal = new Journal(path, 0);
    expect(journal.pendingCount).toBe(200_000);
    journal.close();
  });
});

describe("a journal damaged before its last line", () => {
  it("refuses to open, naming the file and the line", () => {
    const dir = mkdtempSync(join(tmpdir(), "journal-"));
    try {
      const path = join(dir, "journal.jsonl");
      const record = (seq: number) =>
        JSON.stringify({ kind: "stack", stackId: "1", unitsUsed: "5", nextNonce: String(seq), atMs: 1, seq });
      writeFileSync(path, `${record(1)}\n{"kind":"cha\n${record(3)}\n`);
      expect(() => new Journal(path, 0)).toThrow(`the journal ${path} is damaged at line 2`);
      // A torn last line alone is cut off, and the next record lands on a line of its own.
      writeFileSync(path, `${record(1)}\n${record(2)}`);
      const journal = new Journal(path, 0);
      expect(journal.pendingCount).toBe(1);
      journal.append({ kind: "charge", reservationId: "gw:x", keyId: "k1", costWei: "1" });
      journal.close();
      expect(readJournal(path).map((r) => r.seq)).toEqual([1, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
