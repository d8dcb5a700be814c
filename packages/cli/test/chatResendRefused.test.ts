import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeRequestError, ReceiptWithheldError } from "@atoma/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { keepAside, loadAside } from "../src/chat/asideStore.js";
import { WITHHELD_ASIDE_MS, withholdingProven } from "../src/chat/stalledStack.js";

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
    keepAside(file, 7n, "withheld", WITHHELD_ASIDE_MS);
    keepAside(file, 8n, "lied");
    const now = Date.now();
    expect(loadAside(file, now).map((n) => n.nodeId)).toEqual(["7", "8"]);
    expect(Date.parse(loadAside(file, now)[0]!.until!)).toBeGreaterThan(now + WITHHELD_ASIDE_MS - 60_000);
    expect(loadAside(file, now + WITHHELD_ASIDE_MS + 60_000).map((n) => n.nodeId)).toEqual(["8"]);
  });
});
