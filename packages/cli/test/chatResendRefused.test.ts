import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeRequestError, ReceiptWithheldError, WITHHELD_ASIDE_MS, withholdingProven } from "@atoma/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { keepAside, loadAside } from "../src/chat/asideStore.js";

const refusal = (status: number, code: string) =>
  new ReceiptWithheldError(1n, {
    cause: new NodeRequestError(status, { message: code, type: "conflict_error", code: code as never }),
  });

/**
 * Review CLI3-1: any refused resend put the node aside for good and closed the stack, a 401 from a node whose clock
 * runs ahead of the client's included (the client judges the deadline by its own clock), as well as a nonce refusal
 * caused by a second process on the same stack.
 */
describe("only a refusal that proves the node committed the leaf puts it aside", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-aside-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("does not count a 401 (clock skew), a nonce out of order or a 4xx as withholding", () => {
    expect(withholdingProven(refusal(401, "invalid_signature"))).toBe(false);
    expect(withholdingProven(refusal(409, "nonce_out_of_order"))).toBe(false);
    expect(withholdingProven(refusal(400, "invalid_request"))).toBe(false);
    expect(withholdingProven(new ReceiptWithheldError(1n))).toBe(false);
  });

  it("counts the node's own word that the signed request's nonce is used", () => {
    expect(withholdingProven(refusal(409, "nonce_reused"))).toBe(true);
  });

  it("keeps a withholding node aside for a week, not for good, and a permanent entry stays", () => {
    const file = join(dir, "aside.json");
    keepAside(file, 7n, "withheld", new Date(Date.now() + WITHHELD_ASIDE_MS));
    keepAside(file, 8n, "lied");
    const now = Date.now();
    expect(loadAside(file, now).map((n) => n.nodeId)).toEqual(["7", "8"]);
    expect(Date.parse(loadAside(file, now)[0]!.until!)).toBeGreaterThan(now + WITHHELD_ASIDE_MS - 60_000);
    expect(loadAside(file, now + WITHHELD_ASIDE_MS + 60_000).map((n) => n.nodeId)).toEqual(["8"]);
  });

  // Review R4-7: entries a withheld receipt put aside before entries had an `until` would have kept the node aside
  // for good: read now as the week they last, from when they were written.
  it("expires a withheld-receipt entry written without until a week after its at, and keeps a lie for good", () => {
    const file = join(dir, "old-aside.json");
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const old = (nodeId: string, reason: string, ago: number) => ({
      nodeId,
      reason,
      at: new Date(now - ago).toISOString(),
    });
    writeFileSync(
      file,
      JSON.stringify([
        old("3", "withheld the receipt of the request signed at nonce 1 on stack 9", 8 * day),
        old("4", "withheld the receipt of the request signed at nonce 2 on stack 10", day),
        old("5", "said stack 11 was spent at 10 units of 10000, the chain says otherwise", 30 * day),
        {
          nodeId: "6",
          reason: "withheld the receipt of the request signed at nonce 0 on stack 12",
          at: "garbage",
        },
      ]),
    );
    const read = loadAside(file, now);
    expect(read.map((n) => n.nodeId)).toEqual(["4", "5"]);
    expect(Date.parse(read[0]!.until!)).toBe(now - day + WITHHELD_ASIDE_MS);
    expect(read[1]!.until).toBeUndefined();
    // Past its week, the node that withheld is back; the liar never is.
    expect(loadAside(file, now + 7 * day).map((n) => n.nodeId)).toEqual(["5"]);
    // Written again, the file holds the migrated entry, with its until.
    keepAside(file, 8n, "closed stack 13 long before it expired, units left");
    const written = JSON.parse(readFileSync(file, "utf8")) as { nodeId: string; until?: string }[];
    expect(written.map((n) => n.nodeId)).toEqual(["4", "5", "8"]);
    expect(written[0]!.until).toBe(new Date(now - day + WITHHELD_ASIDE_MS).toISOString());
  });
});
