import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { auditFile, receiptsAuditBook } from "../src/chat/auditStore.js";
import { loadReceipts, receiptsFile } from "../src/chat/receiptStore.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "atoma-chat-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const home = {
  chainId: 31_337,
  stackManager: `0x${"5a".repeat(20)}` as const,
  genesis: `0x${"11".repeat(32)}` as const,
};

// Review of issue 13, MEDIUM-1: two processes of one owner (`atoma chat` and `atoma stack audit-adopted`, or two
// runs) keep receipts and challenges of one stack at the same instant. Before: a shared `.tmp` name tore the files
// (every later run then refused them) and read-modify-writes lost entries.
describe("atoma chat's stack files written by two processes at once", () => {
  it("keeps every receipt and challenge of both, the files whole", async () => {
    const file = receiptsFile(dir, home, 7n);
    const count = 80;
    const startAt = String(Date.now() + 1_500);
    const child = (first: number) =>
      run(process.execPath, [
        "--import",
        "tsx",
        join(import.meta.dirname, "chatStoresChild.ts"),
        file,
        String(first),
        String(count),
        startAt,
      ]);
    await Promise.all([child(1_000), child(2_000)]);
    expect(loadReceipts(file)).toHaveLength(2 * count);
    const book = receiptsAuditBook(dir, home);
    expect(await book.challenges(7n)).toHaveLength(2 * count);
    expect(readdirSync(dir).filter((n) => !n.endsWith(".json"))).toEqual([]);
  }, 60_000);

  it("a torn file is reported by name and the other stacks are still audited", async () => {
    const torn = receiptsFile(dir, home, 8n);
    writeFileSync(torn, '[{"fields":');
    writeFileSync(auditFile(torn), "{");
    const book = receiptsAuditBook(dir, home);
    expect(await book.stacks()).toContain(8n);
    await expect(book.adopted(8n)).rejects.toThrow(torn);
  });
});
