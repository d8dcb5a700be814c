import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeptReceipt } from "@atoma/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { asideFile, keepAside, loadAside } from "../src/chat/asideStore.js";
import { auditFile, keepAuditChallenge, receiptsAuditBook } from "../src/chat/auditStore.js";
import { keepPending, loadForgotten, loadPending, pendingFile } from "../src/chat/pendingStore.js";
import { keepReceipt, lastServedAt, loadReceipts, receiptsFile } from "../src/chat/receiptStore.js";
import { oneLineMessage } from "../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-chat-corrupt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const home = {
  chainId: 31_337,
  stackManager: `0x${"5a".repeat(20)}` as const,
  genesis: `0x${"22".repeat(32)}` as const,
};
const receipt: KeptReceipt = {
  fields: {
    stackId: 9n,
    leafIndex: 0n,
    nonce: 1n,
    reqHash: `0x${"01".repeat(32)}`,
    respHash: `0x${"02".repeat(32)}`,
    units: 3n,
    cumulativeUnits: 3n,
    seed: 4n,
  },
  signature: `0x${"03".repeat(65)}`,
  result: "0x",
};
const pending = [
  {
    path: "/v1/chat/completions",
    signed: { reqHash: `0x${"04".repeat(32)}` as const, nonce: 2n, maxUnits: 10n, headers: {}, json: "{}" },
  },
];

/** What each store's writes and reads are, for one stack's (or chain's) file. */
const stores = [
  {
    name: "receipts",
    file: () => receiptsFile(dir, home, 9n),
    write: (file: string) => keepReceipt(file, receipt),
    reads: [(file: string) => loadReceipts(file), (file: string) => lastServedAt(file)],
  },
  {
    name: "pending",
    file: () => pendingFile(receiptsFile(dir, home, 9n)),
    write: (file: string) => keepPending(file, pending),
    reads: [(file: string) => loadPending(file), (file: string) => loadForgotten(file)],
  },
  {
    name: "pending (emptied)",
    file: () => pendingFile(receiptsFile(dir, home, 9n)),
    write: (file: string) => keepPending(file, []),
    reads: [],
  },
  {
    name: "aside",
    file: () => asideFile(dir, home),
    write: (file: string) => keepAside(file, 5n, "withheld the receipt of stack 9"),
    reads: [(file: string) => loadAside(file)],
  },
  {
    name: "audit",
    file: () => auditFile(receiptsFile(dir, home, 9n)),
    write: () =>
      keepAuditChallenge(receiptsFile(dir, home, 9n), {
        leafIndex: 0n,
        challengeId: 1n,
        upheld: false,
        answerDeadline: 100n,
      }),
    reads: [() => receiptsAuditBook(dir, home).challenges(9n)],
  },
];

/** Contents a crash, a disk or a hand edit may leave: each must be refused, never read as "nothing kept yet". */
const corruptions = ['[{"fields":', "", "null", '{"receipts":1}', '"text"', "[1, 2]"];

async function refused(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("not refused");
}

// Second review of issue 13, G: a store file that does not read (torn, edited, unreadable) was read as empty, and
// the next write replaced the owner's evidence with one entry. It is refused with one clear line, and left as it is.
describe("atoma chat's store files that do not read", () => {
  for (const store of stores) {
    for (const text of corruptions) {
      it(`${store.name}: ${JSON.stringify(text)} is refused and never overwritten`, async () => {
        const file = store.file();
        rmSync(file, { recursive: true, force: true });
        writeFileSync(file, text);
        for (const operation of [store.write, ...store.reads]) {
          const error = await refused(() => operation(file));
          expect(error).toMatchObject({ name: "ChatStoreUnreadableError", code: "chat_store_unreadable" });
          expect(oneLineMessage(error)).toContain(file);
          expect(oneLineMessage(error)).toMatch(/\(chat_store_unreadable\)$/);
          expect(readFileSync(file, "utf8")).toBe(text);
        }
      });
    }

    it(`${store.name}: a file that cannot be read at all (a folder there) is refused, not read as empty`, async () => {
      const file = store.file();
      rmSync(file, { recursive: true, force: true });
      mkdirSync(file);
      writeFileSync(join(file, "evidence"), "kept");
      for (const operation of [store.write, ...store.reads]) {
        const error = await refused(() => operation(file));
        expect(error).toMatchObject({ code: "chat_store_unreadable" });
        expect(statSync(file).isDirectory()).toBe(true);
      }
      rmSync(file, { recursive: true, force: true });
    });
  }
});
