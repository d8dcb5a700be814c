import { costOfUnits } from "@atoma/core";
import { findKeptReceiptFraud } from "@atoma/sdk";
import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { receiptFromRow } from "../src/network/receiptRows.js";
import { CUT_FINISH_MS, LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type FakeNode, type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { RIG_PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Review 3 of h-gw, HIGH-1: the answer a leaf read shows is the fraud proof of a cut stream's leaf billed past its
// usage, but it was checked only when the node showed one that was not marked sealed. A node that cut a clear stream,
// committed a leaf billing the whole signed bound, and left the answer out of the leaf read (or showed a made-up
// `{object: "atoma.sealed"}` in its place) had its leaf taken with no usage check: the gateway paid the bound, and kept
// no result bytes to prove the fraud. "Sealed" is now the signed body's word, never the node's: a clear request whose
// leaf read shows no clear answer is resent, and the resend's answer (the node's records) is checked as any.
describe.each(["none", "sealed"] as const)("a node whose leaf read shows %s for a clear answer", (shows) => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [
      { script: streamsAs(() => script), options: { strictNonces: true, leafAnswer: { shows } } },
      { script: () => ({ kind: "honest" }), options: { strictNonces: true }, price: 2n * RIG_PRICE },
    ],
    upstream: { cutLimit: 100 },
  });

  it("checks the resend's answer instead, refuses the leaf with its fraud proof and takes the node out", async () => {
    const { opened, parts, upstream } = rig;
    const [node, other] = rig.nodes as [FakeNode, FakeNode];
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "cut", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS, bills: "bound" };
    const cut = await chat(app, key, LONG_STREAM);
    expect(await cut.text()).toContain("Hel");
    await node.finished();
    script = { kind: "honest" };
    const next = await chat(app, key, shortChat("x"));
    expect(node.leafReads.at(-1)?.found).toBe(true);
    expect(next.status).toBe(200);
    expect(other.requests).toHaveLength(1);
    expect(upstream.health.available(1n)).toBe(false);
    const rows = await opened.db
      .selectFrom("receipts")
      .select(["receipt", "refused"])
      .where("stack_id", "=", 1n)
      .execute();
    const kept = rows.map((row) => ({ receipt: receiptFromRow(row.receipt), refused: row.refused }));
    // No leaf of the node's was taken on its word; the one it bills is refused with the answer's result bytes.
    expect(kept.every((k) => k.refused)).toBe(true);
    expect(kept.some((k) => k.receipt.result !== "0x")).toBe(true);
    expect(findKeptReceiptFraud(kept.map((k) => k.receipt))?.kind).toBe("units");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect(parseEther((await parts.keys.get(view.id)).spent)).toBeLessThan(costOfUnits(150n, RIG_PRICE));
  });
});
