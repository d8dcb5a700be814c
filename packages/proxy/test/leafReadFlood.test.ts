import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { shortChat } from "./helpers/chatBodies.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

/** What the node sends at most for one leaf read: far above any leaf's receipt and request. */
const FLOOD_BYTES = 16 * 1024 * 1024;

// Review 3 of h-gw, MEDIUM-6: a leaf read made to adopt another client's leaf (the node called the nonce used) or to
// audit one uses no answer, yet it was read up to 64 MiB past the leaf's receipt and request, whatever the request's own
// caps: a node calling nonce after nonce used had the gateway buffer 64 MiB for each. Such a read now asks the node to
// leave the answer out (`?answer=0`) and reads at most the receipt and request's 16 KiB.
describe("a node that calls a nonce used and floods the leaf read that follows", () => {
  const pulled = { bytes: 0 };
  const lies = { claimReused: true, leafReadFlood: { bytes: FLOOD_BYTES, pulled } };
  const rig = suiteNodeGateway({
    nodes: [{ script: () => ({ kind: "honest" }), options: { strictNonces: true, lies } }],
    upstream: { cutLimit: 100 },
  });

  it("reads no more of the leaf than its receipt and request", async () => {
    const { parts, node } = rig;
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "flooded", budget: "1" });
    const answer = await chat(app, key, shortChat("hi"));
    expect(answer.status).toBeGreaterThanOrEqual(500);
    await answer.text();
    expect(node.leafReads.length).toBeGreaterThan(0);
    // What the node pushed before the gateway stopped reading: the leaf's 16 KiB and the sockets' buffers, never the flood.
    expect(pulled.bytes).toBeLessThan(4 * 1024 * 1024);
  });
});
