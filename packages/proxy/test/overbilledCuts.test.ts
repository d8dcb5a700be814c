import { costOfUnits } from "@atoma/core";
import { findKeptReceiptFraud } from "@atoma/sdk";
import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { receiptFromRow } from "../src/network/receiptRows.js";
import { CUT_FINISH_MS, LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type FakeNode, type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { RIG_PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { stackState } from "./helpers/stackState.js";
import { chat } from "./helpers/testGateway.js";

/** Over-billed cuts in the window before the node is put aside (`overbilledCutLimit`). */
const OVERBILLED_LIMIT = 2;

// Review 2 of h-gw, MEDIUM-D: a node that cuts a stream after one chunk and commits a leaf billing the owner's whole
// signed bound (its receipt read by the leaf read, no answer bytes to check its units against) cost itself nothing
// while its cuts stayed under `cutLimit`: the key paid what was relayed and the gateway paid the node the rest, cut
// after cut. Each such over-billed cut now counts against the node; an honest cut (its leaf billing what it
// generated) does not.
describe("a node that bills cut streams' leaves at the whole signed bound", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script), options: { strictNonces: true } }],
    // Cuts alone never put either node aside here: only what their leaves bill does.
    upstream: {
      cutLimit: 100,
      overbilledCutLimit: OVERBILLED_LIMIT,
    },
  });
  const plain = shortChat("again");

  /** A stream node 1 cuts (its leaf billing `bills`), then a plain request that reads that leaf. */
  async function cutThenRead(app: ReturnType<typeof createGatewayApp>, key: string, bound: boolean) {
    script = {
      kind: "cutThenFinish",
      finishMs: CUT_FINISH_MS,
      ...(bound ? { bills: "fabricated" as const } : {}),
    };
    const response = await chat(app, key, LONG_STREAM);
    expect(await response.text()).toContain("Hel");
    await rig.node.finished();
    script = { kind: "honest" };
    expect((await chat(app, key, plain)).status).toBe(200);
    expect(rig.node.leafReads.at(-1)?.found).toBe(true);
  }

  it("counts an honest cut's leaf against no one", async () => {
    const { parts, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "honest", budget: "1" });
    for (let round = 0; round < OVERBILLED_LIMIT + 1; round++) await cutThenRead(app, key, false);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
  });

  it("puts the node aside once its cut streams' leaves bill far above what they relayed", async () => {
    const { parts, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "overbilled", budget: "1" });
    let paidBefore = 0n;
    for (let round = 1; round <= OVERBILLED_LIMIT; round++) {
      const billedBefore = rig.node.billed(1n);
      await cutThenRead(app, key, true);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      // The node billed the whole bound (400 tokens and the prompt); the key paid what was relayed and its answer.
      expect(rig.node.billed(1n) - billedBefore).toBeGreaterThan(400n);
      const paid = parseEther((await parts.keys.get(view.id)).spent);
      expect(paid - paidBefore).toBeLessThan(costOfUnits(150n, RIG_PRICE));
      paidBefore = paid;
      if (round < OVERBILLED_LIMIT) expect(upstream.health.available(1n)).toBe(true);
    }
    expect(nodeErrors).toContain("1:overbilled_cuts");
    expect(upstream.health.available(1n)).toBe(false);
  });
});

// Review 2 of h-gw, MEDIUM-D, the proof: the leaf read carried no answer bytes, so a leaf billing the whole bound for an
// answer whose usage says far less was taken on the node's word. The node now shows the answer it committed with the
// leaf, and the gateway checks it as a resend's answer: its response hash is the receipt's, its usage the units
// billed. A leaf billing past its answer's usage is refused, kept with its result bytes (`ReceiptFraud`'s units proof,
// the node slashed on-chain), its stack retired and the node out of rotation at once; the key pays what was relayed.
describe("a node that bills a cut stream's leaf past its answer's usage", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [
      { script: streamsAs(() => script), options: { strictNonces: true } },
      // An honest node beside it, dearer: node 1 is tried first.
      { script: () => ({ kind: "honest" }), options: { strictNonces: true }, price: 2n * RIG_PRICE },
    ],
    upstream: { cutLimit: 100 },
  });

  it("refuses the leaf with its answer as the fraud proof, and takes the node out at once", async () => {
    const { opened, parts, upstream } = rig;
    const [node, other] = rig.nodes as [FakeNode, FakeNode];
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "caught", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS, bills: "bound" };
    const cut = await chat(app, key, LONG_STREAM);
    expect(await cut.text()).toContain("Hel");
    await node.finished();
    script = { kind: "honest" };
    // The next request reads the leaf at the lying node, then is served by the other one.
    const next = await chat(app, key, shortChat("x"));
    expect(node.leafReads.at(-1)?.found).toBe(true);
    expect(next.status).toBe(200);
    expect(other.requests).toHaveLength(1);
    expect(upstream.health.available(1n)).toBe(false);
    expect(await stackState(opened)).toBe("retired");
    // The receipt is kept refused, with the answer's result bytes: the on-chain proof of units past the usage.
    const rows = await opened.db
      .selectFrom("receipts")
      .select(["receipt", "refused"])
      .where("stack_id", "=", 1n)
      .execute();
    const kept = rows.map((row) => ({ receipt: receiptFromRow(row.receipt), refused: row.refused }));
    expect(kept.some((k) => k.refused && k.receipt.result !== "0x")).toBe(true);
    const proof = findKeptReceiptFraud(kept.map((k) => k.receipt));
    expect(proof?.kind).toBe("units");
    // The key paid at most what the stream relayed.
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect(parseEther((await parts.keys.get(view.id)).spent)).toBeLessThan(costOfUnits(150n, RIG_PRICE));
  });
});
