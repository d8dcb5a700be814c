import { costOfUnits } from "@atoma/core";
import { formatEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import type { NodeScript } from "./helpers/fakeNode.js";
import { RIG_PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

/** What the fake node bills each answer. */
const ANSWER = costOfUnits(5n, RIG_PRICE);

// Review M1: a stream whose connection broke is resent (the same signed request) while the node is still finishing
// the first attempt, and the node answers the resend 409 `request_in_flight`: a correct answer. The gateway took any
// refusal after streamed text for the node's own failure: it gave the nonce up and, when the node then showed the
// leaf it committed there, put the honest node out of rotation for billing "a request it said failed"; the key was
// charged nothing for a leaf the node bills.
describe("a resend a node answers 409 request_in_flight", () => {
  let script: NodeScript = { kind: "honest" };
  let plainScript: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [
      { script: (body) => (body.stream === true ? script : plainScript), options: { strictNonces: true } },
    ],
    // Each case's one honest cut: never the repeated cuts of `cutOnPurpose.test.ts`.
    upstream: { cutLimit: 10 },
  });
  const plain = shortChat("again");

  it("keeps the honest node, charges the key what its leaf says, and never regenerates the answer", async () => {
    const { opened, parts, node, upstream, nodeErrors } = rig;
    script = { kind: "cutThenFinish", finishMs: 1_500 };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "cut", budget: "1" });
    const response = await chat(app, key, LONG_STREAM);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("Hel");
    expect(text).toContain("error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // The node's "not yet" is no failure of its own.
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
    const sentBefore = node.requests.length;
    // The node has finished the first attempt and committed its leaf.
    await node.finished();
    script = { kind: "honest" };
    const next = await chat(app, key, plain);
    expect(next.status).toBe(200);
    expect(next.headers.get("x-atoma-node")).toBe("1");
    // The leaf was read, not the answer asked for again: only the new request reached the node.
    expect(node.leafReads).toContainEqual({ nonce: 0n, found: true });
    expect(node.requests.length - sentBefore).toBe(1);
    expect(upstream.health.isRemoved(1n)).toBe(false);
    expect(nodeErrors).toEqual([]);
    // The cut stream is charged the units its leaf bills, the next request its own: nothing lost, nothing twice.
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(2n * ANSWER));
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
  });

  // Review of h-gw, HIGH-1: the next request comes while the node still finishes the cut one. The node's read said
  // "no leaf" there, the gateway freed the nonce and signed the next request on it: 409 blamed on the node, or (the
  // cut one committing first) `nonce_reused`, taken for a gap, and the honest node removed.
  it("keeps a cut request pending, and the honest node in rotation, when the next request comes before it commits", async () => {
    const { opened, parts, node, upstream, nodeErrors } = rig;
    script = { kind: "cutThenFinish", finishMs: 1_500 };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "early", budget: "1" });
    const response = await chat(app, key, LONG_STREAM);
    expect(await response.text()).toContain("Hel");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    script = { kind: "honest" };
    // At once: the node is still at the cut request.
    const early = await chat(app, key, plain);
    await early.text();
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.isRemoved(1n)).toBe(false);
    await node.finished();
    const next = await chat(app, key, plain);
    expect(next.status).toBe(200);
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.isRemoved(1n)).toBe(false);
    expect(upstream.health.available(1n)).toBe(true);
    // The cut stream's leaf was read and charged once, with each answer that came: nothing twice, nothing lost.
    const answered = early.status === 200 ? 3n : 2n;
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(answered * ANSWER));
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
  });

  it("does not blame a node whose plain request's connection broke and whose resend it still had in flight", async () => {
    const { opened, parts, node, upstream, nodeErrors } = rig;
    plainScript = { kind: "dropThenFinish", finishMs: 400 };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "dropped", budget: "1" });
    const failed = await chat(app, key, plain);
    expect(failed.status).toBe(502);
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
    await node.finished();
    plainScript = { kind: "honest" };
    const sentBefore = node.requests.length;
    const next = await chat(app, key, plain);
    expect(next.status).toBe(200);
    // The dropped request's committed leaf is read (its receipt kept), not the request sent again.
    const read = node.leafReads.at(-1)!;
    expect(read.found).toBe(true);
    expect(node.requests.length - sentBefore).toBe(1);
    const kept = await opened.db
      .selectFrom("receipts")
      .where("leaf_index", "=", read.nonce)
      .selectAll()
      .execute();
    expect(kept).toHaveLength(1);
    expect(nodeErrors).toEqual([]);
    // The key pays the answer it got; the dropped request, which it never got, is the gateway's.
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(ANSWER));
  });

  it("still gives the nonce up and puts aside a node that fails a stream itself and then bills its leaf", async () => {
    const { parts, upstream, nodeErrors } = rig;
    script = { kind: "errorMidStream", code: "internal_error" };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "refused", budget: "1" });
    const failed = await chat(app, key, LONG_STREAM);
    expect(await failed.text()).toContain("internal_error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect((await parts.keys.get(view.id)).spent).toBe("0");
    // The next request takes the given-up nonce; the node calls it used and shows the leaf it said failed.
    script = { kind: "honest" };
    const next = await chat(app, key, plain);
    expect(next.status).toBe(200);
    expect(nodeErrors).toContain("1:billed_error_answer");
    expect(upstream.health.isRemoved(1n)).toBe(true);
    // The key pays the answer it got, nothing for the failed stream.
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(ANSWER));
  });
});
