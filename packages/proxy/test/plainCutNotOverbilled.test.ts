import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { shortChat } from "./helpers/chatBodies.js";
import type { NodeScript } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Review 3 of h-gw, MEDIUM-5: a plain (not streamed) request whose connection broke while the node still had it in
// flight is read first by the stack's next request, as a cut stream is, and was recorded as a cut of no chunks: the
// honest node finishing it billed prompt and completion, far above the body's bytes, and each such leaf was counted as
// an over-billed cut (two in ten minutes put the node aside). Nothing was relayed of it, so nothing bounds it: only a
// stream that carried chunks is compared with its leaf.
describe("an honest node finishing plain requests whose connections broke", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [{ script: () => script, options: { strictNonces: true } }],
    upstream: {
      cutLimit: 100,
      overbilledCutLimit: 2,
    },
  });

  it("never counts the leaf it finished as an over-billed cut", async () => {
    const { parts, node, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "dropped", budget: "1" });
    for (let round = 0; round < 3; round++) {
      script = { kind: "dropThenFinish", finishMs: 300, completionTokens: 200 };
      const failed = await chat(app, key, {
        model: "tiny",
        messages: [{ role: "user", content: `long ${round}` }],
        max_tokens: 400,
      });
      expect(failed.status).toBe(502);
      await new Promise((resolve) => setTimeout(resolve, 400));
      script = { kind: "honest" };
      const next = await chat(app, key, shortChat(`next ${round}`));
      expect(next.status).toBe(200);
      expect(node.leafReads.at(-1)?.found).toBe(true);
    }
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
  });
});
