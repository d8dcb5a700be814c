import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { CUT_FINISH_MS, LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Review 3 of h-gw, MEDIUM-4: a node's 404 `leaf_not_found` is unsigned. A node cut a stream, committed its leaf at the
// whole signed bound, and answered the leaf read "no leaf": the gateway freed the nonce and settled the key's hold at its
// floor. The node then called the nonce used for the next request there and showed the freed request's leaf, which the
// gateway took as another client's (adopted, no answer to check) and paid up to the bound. A nonce freed on the node's
// word is now remembered with its request's hash: the freed request's leaf shown later is the node billing what it said
// it never committed (refuse-then-bill), and it leaves rotation.
describe("a node that calls a cut request's leaf missing, then shows it", () => {
  let script: NodeScript = { kind: "honest" };
  const lies: { leafNotFound?: number; dropRequests?: number } = {};
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script), options: { strictNonces: true, lies } }],
    upstream: { cutLimit: 100 },
  });

  it("takes the node out of rotation when the freed request's leaf turns up", async () => {
    const { parts, node, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "lied-to", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS, bills: "bound" };
    const cut = await chat(app, key, LONG_STREAM);
    expect(await cut.text()).toContain("Hel");
    await node.finished();
    script = { kind: "honest" };
    // The leaf read is told "no leaf", and the request then signed at the freed nonce never reaches the node (each of
    // its sends dropped): it stays pending, and the next request resends it first.
    lies.leafNotFound = 1;
    lies.dropRequests = 3;
    const dropped = await chat(app, key, shortChat("dropped"));
    expect(dropped.status).toBeGreaterThanOrEqual(500);
    expect(lies.dropRequests).toBe(0);
    // That resend is called `nonce_reused`, and the leaf read now shows the freed request's leaf.
    const next = await chat(app, key, shortChat("next"));
    await next.text();
    expect(node.leafReads.map((read) => read.found)).toEqual([true, true]);
    expect(nodeErrors).toContain("1:billed_error_answer");
    expect(upstream.health.isRemoved(1n)).toBe(true);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
  });
});
