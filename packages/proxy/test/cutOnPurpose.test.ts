import { costOfUnits } from "@atoma/core";
import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { CUT_FINISH_MS, LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { RIG_PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

/** Cuts in the window before the node is put aside (`cutLimit`). */
const CUT_LIMIT = 3;

// Review of h-gw, HIGH-4: a node sends one chunk, drops the connection, answers the resends 409 request_in_flight, then
// commits a leaf billing the owner's whole signed bound (its usage made up to match). The gateway took each such cut for an honest one: no error,
// no cooldown, no strike, and the key was charged the whole bound for a chunk, read from the leaf (no answer bytes, so
// no units-against-usage fraud proof). A cut still costs an honest node nothing once; cut after cut puts it aside, and
// the key pays at most what the stream could have delivered.
describe("a node that cuts streams on purpose and bills their leaves up to the bound", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script), options: { strictNonces: true } }],
    // Its leaves' over-billing is `overbilledCuts.test.ts`'s: here only the cuts count.
    upstream: {
      cutLimit: CUT_LIMIT,
      overbilledCutLimit: 100,
    },
  });
  const plain = shortChat("again");

  it("charges the key at most what a cut stream delivered, and puts the node aside after repeated cuts", async () => {
    const { parts, node, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "cut", budget: "1" });
    let paidBefore = 0n;
    for (let cut = 1; cut <= CUT_LIMIT; cut++) {
      script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS, bills: "fabricated" };
      const response = await chat(app, key, LONG_STREAM);
      expect(await response.text()).toContain("Hel");
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      // One cut is what a broken connection looks like: no fault of the node's yet.
      if (cut < CUT_LIMIT) expect(nodeErrors).toEqual([]);
      await node.finished();
      if (cut === CUT_LIMIT) break;
      script = { kind: "honest" };
      // The next request reads the cut one's leaf, which bills the whole signed bound.
      expect((await chat(app, key, plain)).status).toBe(200);
      expect(node.leafReads.at(-1)?.found).toBe(true);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      const paid = parseEther((await parts.keys.get(view.id)).spent);
      // The cut stream relayed two chunks: the key pays no more than its signed body's bytes and those chunks (and
      // the answer it then got), far below the bound the node billed.
      expect(paid - paidBefore).toBeLessThan(costOfUnits(150n, RIG_PRICE));
      paidBefore = paid;
    }
    // The node billed its leaves up to their bounds: the gateway pays that, not the key.
    expect(node.billed(1n)).toBeGreaterThan(1_000n);
    // Cut after cut: the node is counted against and put aside.
    expect(nodeErrors).toContain("1:repeated_cuts");
    expect(upstream.health.available(1n)).toBe(false);
  });
});

// Review of h-gw, MEDIUM-2: the leaf read ran outside the first-byte timer (30 s of its own), so a node that stalled
// it held each request on a stack with a cut request for 30 s, blamelessly.
describe("a node that stalls the leaf read of a cut request", () => {
  let script: NodeScript = { kind: "honest" };
  const stall = { on: false };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script), options: { strictNonces: true, stallLeafReads: stall } }],
    upstream: { firstByteTimeoutMs: 1_000 },
  });

  it("gives the read up after the first-byte timeout, not 30 s", async () => {
    const { parts, node } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "stalled", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS };
    const cut = await chat(app, key, LONG_STREAM);
    expect(await cut.text()).toContain("Hel");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    await node.finished();
    script = { kind: "honest" };
    stall.on = true;
    const startedAt = Date.now();
    const next = await chat(app, key, shortChat("again"));
    await next.text();
    expect(node.leafReads.length).toBeGreaterThan(0);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  }, 60_000);
});
