import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { LONG_STREAM } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { stopAfter } from "./helpers/stopStream.js";
import { chat } from "./helpers/testGateway.js";

/** A whole answer far above the body's bytes: an honest receipt for it bills far more than a stopped stream carried. */
const PIECES = 300;

// Review 3 of h-gw, HIGH-2: "Stop generating" then "Regenerate" sends the same body again. The stopped stream's leaf
// read finds nothing (the honest node stopped and recorded nothing), its nonce goes to the regenerate, signed afresh
// with the same body, so the same request hash: its honest full receipt was compared with the stopped stream's few
// chunks and counted as an over-billed cut. Twice in ten minutes put the honest node aside (`overbilled_cuts`). Only
// the cut request's own leaf (read, resent, or adopted) is compared now.
describe("an honest node whose stopped streams are regenerated", () => {
  const seen = { begun: 0, stopped: 0, finished: 0 };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => ({ kind: "generate", pieces: PIECES, delayMs: 5, seen })) }],
    served: true,
  });

  it("never counts the regenerated answer's receipt as an over-billed cut", async () => {
    const { parts, node, upstream, nodeErrors, baseURL } = rig;
    const { key, view } = await parts.keys.create({ name: "regenerator", budget: "1000" });
    const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
    for (let round = 0; round < 3; round++) {
      const body = {
        model: "tiny",
        messages: [{ role: "user" as const, content: `round ${round}` }],
        max_tokens: 400,
        stream: true as const,
      };
      await stopAfter(await client.chat.completions.create(body));
      await expect.poll(() => seen.stopped, { timeout: 5_000 }).toBe(round + 1);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      let text = "";
      for await (const chunk of await client.chat.completions.create(body))
        text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe("w".repeat(PIECES));
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    }
    expect(node.leafReads.every((read) => !read.found)).toBe(true);
    expect(seen.finished).toBe(3);
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
  });
});

// The same with refuse-then-bill: a stream the node fails honestly (an error event, nothing committed) gives its nonce
// to the stack's next request. A client retrying the very same body there gets the same request hash at the same leaf,
// and its honest receipt was taken for the node billing the request it said failed: the node left rotation. Only the
// failed request's leaf shown as another's (adopted) is that now.
describe("an honest node whose failed stream's body is sent again", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script) }],
  });

  it("keeps the node in rotation when the retry's receipt lands at the failed request's leaf", async () => {
    const { parts, node, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "retrier", budget: "1" });
    const body = LONG_STREAM;
    script = { kind: "errorMidStream", code: "internal_error", commits: false };
    expect(await (await chat(app, key, body)).text()).toContain("internal_error");
    script = { kind: "honest" };
    const retry = await chat(app, key, body);
    expect(retry.status).toBe(200);
    expect(await retry.text()).toContain("[DONE]");
    expect(node.requests.length).toBe(2);
    // The failed stream is counted as the node's error (it failed); billing what it failed, it did not.
    expect(nodeErrors).not.toContain("1:billed_error_answer");
    expect(upstream.health.isRemoved(1n)).toBe(false);
  });
});
