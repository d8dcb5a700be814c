import { costOfUnits } from "@atoma/core";
import { formatEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { RIG_PRICE as PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Refuse-then-bill (review B-4): a node ends a stream with an error answer (it failed, it says), yet it committed the
// leaf, and hands its receipt over when the gateway resends the request before the stack's next one: the key was
// charged for an answer it never got, and the node kept its place.
describe("a node that answers a stream with an error and bills its leaf", () => {
  const scripts: NodeScript[] = [{ kind: "honest" }, { kind: "honest" }];
  const rig = suiteNodeGateway({
    nodes: scripts.map((_, i) => ({ script: streamsAs(() => scripts[i]!), price: PRICE * BigInt(i + 1) })),
  });

  it("charges nothing for the failed stream, and puts aside the node that bills the leaf it said failed", async () => {
    const { opened, parts, upstream, nodeErrors } = rig;
    scripts[0] = { kind: "errorMidStream", code: "internal_error" };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "victim", budget: "1" });
    const response = await chat(app, key, LONG_STREAM);
    const text = await response.text();
    expect(text).toContain("error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // The stack's next request: the failed one is not resent (an honest node would generate it all again), its nonce
    // goes to this one, and the node, which committed the failed one there, shows a running total that includes it.
    scripts[0] = { kind: "honest" };
    const ask = () => chat(app, key, shortChat("again"));
    let next = await ask();
    if (next.status !== 200) {
      expect(await next.json()).toMatchObject({ error: { code: expect.any(String) } });
      next = await ask();
    }
    expect(next.status).toBe(200);
    const served = Number(next.headers.get("x-atoma-node"));
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // The key pays the answer it got, and nothing for the one the node said failed.
    const answer = costOfUnits(5n, PRICE * BigInt(served));
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(answer));
    // The node billed a leaf for a request it answered with an error: out of rotation, its receipt kept.
    expect(upstream.health.isRemoved(1n)).toBe(true);
    // Its running total at that leaf (the next request's) counts the failed request: the receipt is refused.
    expect(nodeErrors).toContain("1:receipt_running_total");
    const kept = await opened.db.selectFrom("receipts").where("stack_id", "=", 1n).selectAll().execute();
    expect(kept.length).toBeGreaterThan(0);
  });

  it("charges nothing for a stream an honest node failed, and keeps the node, whose next request takes the nonce", async () => {
    const { nodes, parts, upstream } = rig;
    // Node 1 out of rotation since the test above: this one is about node 2, honest, failing once mid-stream.
    scripts[1] = { kind: "errorMidStream", code: "internal_error", commits: false };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "unlucky", budget: "1" });
    const failed = await chat(app, key, LONG_STREAM);
    expect(await failed.text()).toContain("internal_error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect((await parts.keys.get(view.id)).spent).toBe("0");
    scripts[1] = { kind: "honest" };
    const before = nodes[1]!.requests.length;
    const next = await chat(app, key, shortChat("again"));
    expect(next.status).toBe(200);
    expect(next.headers.get("x-atoma-node")).toBe("2");
    // Not resent first: the node is asked only the new request, at the failed one's nonce.
    expect(nodes[1]!.requests.length - before).toBe(1);
    expect(upstream.health.isRemoved(2n)).toBe(false);
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(costOfUnits(5n, 2n * PRICE)));
  });
});
