import { costOfUnits } from "@atoma/core";
import OpenAI from "openai";
import { formatEther, parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { RIG_PRICE as PRICE, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { stopAfter } from "./helpers/stopStream.js";

/** The whole answer the generating node makes: 300 one-token chunks. */
const PIECES = 300;
/** The long stream each case's client asks for (and stops). */
const LONG_CHAT = {
  model: "tiny",
  messages: [{ role: "user" as const, content: "hi" }],
  max_tokens: 400,
  stream: true as const,
};

// A stream its client stops (an OpenAI client aborting mid-answer) must stop the work upstream and bill only what was
// delivered: the node stops generating and records nothing, so the pending request's resend before the stack's next
// one has it generate the whole answer again, and the key was charged that whole answer it never got.
describe("streams their OpenAI client stops", () => {
  const seen = { begun: 0, stopped: 0, finished: 0 };
  const scripts: NodeScript[] = [{ kind: "generate", pieces: PIECES, delayMs: 20, seen }, { kind: "honest" }];
  const rig = suiteNodeGateway({
    nodes: scripts.map((script, i) => ({ script: streamsAs(() => script), price: PRICE * BigInt(i + 1) })),
    served: true,
  });

  it("stops the node's work when the client aborts, and bills only what was delivered", async () => {
    const { opened, nodes, parts, baseURL } = rig;
    const { key, view } = await parts.keys.create({ name: "stopper", budget: "1000" });
    const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
    const stream = await client.chat.completions.create(LONG_CHAT);
    await stopAfter(stream);
    // Leaving the loop aborts the request: the node stops generating, and no other node is asked for it.
    await expect.poll(() => seen.stopped, { timeout: 5_000 }).toBe(1);
    expect(seen.finished).toBe(0);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect(nodes[1]!.requests.filter((body) => body.stream === true)).toHaveLength(0);
    // Charged at most what it was sent, held for the leaf's receipt.
    const held = parseEther((await parts.keys.get(view.id)).spent);
    expect(held).toBeGreaterThan(0n);
    expect(held).toBeLessThan(costOfUnits(BigInt(3 + PIECES), PRICE));
    // The key's next request (same stack): the stopped one's leaf is read first, not its answer asked for again
    // (review M3: the node generated the whole answer once more, for nobody). It committed nothing there, so its
    // nonce goes to this request, and the key pays what the node bills: this answer, nothing for the stopped one.
    const sentBefore = nodes[0]!.requests.length;
    const next = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 4,
    });
    expect(next.choices[0]?.message.content).toBe("fake");
    expect(nodes[0]!.leafReads).toEqual([{ nonce: 0n, found: false }]);
    expect(nodes[0]!.requests.length - sentBefore).toBe(1);
    expect(nodes[0]!.requests.at(-1)?.stream).not.toBe(true);
    expect(seen.begun).toBe(1);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(costOfUnits(5n, PRICE)));
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
  });
});

// Review of h-gw, HIGH-3: a stopped stream's nonce goes to the stack's next request, which is stopped too. Its charge
// was held per stack and nonce, and the second hold there was dropped (and the second stream, signed at a pending
// request's nonce, was taken for that request's resend: no hold at all): the key paid its whole reservation for good.
describe("two streams their client stops in a row on one stack", () => {
  const seen = { begun: 0, stopped: 0, finished: 0 };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => ({ kind: "generate", pieces: PIECES, delayMs: 20, seen })) }],
    served: true,
  });

  it("gives back both held charges of two streams stopped in a row at one nonce", async () => {
    const { opened, nodes, parts, baseURL } = rig;
    const { key, view } = await parts.keys.create({ name: "twice", budget: "1000" });
    const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
    const stopAfterThree = async () => {
      const stream = await client.chat.completions.create(LONG_CHAT);
      await stopAfter(stream);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    };
    const readsBefore = nodes[0]!.leafReads.length;
    await stopAfterThree();
    await stopAfterThree();
    await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 4,
    });
    // The node denied the first stream's request at nonce 0 (its signed word): the same body is never signed there
    // again, so a filler takes nonce 0 and the second stream goes at 1; the last request, another body, takes 1.
    expect(nodes[0]!.leafReads.slice(readsBefore)).toEqual([
      { nonce: 0n, found: false },
      { nonce: 1n, found: false },
    ]);
    expect(nodes[0]!.envelopes.map((e) => e["x-atoma-nonce"])).toEqual(["0", "0", "1", "1"]);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // Both stopped streams' charges come back: the key pays the answer it got, nothing else (the filler is the
    // gateway's).
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(costOfUnits(5n, PRICE)));
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
    expect(seen).toEqual({ begun: 2, stopped: 2, finished: 0 });
  });
});

// Review 2 of h-gw, HIGH-A: "stop, then regenerate". A stopped stream's leaf read finds nothing and frees its nonce; the
// same body sent again (here by another key) is signed there afresh and answered. Its receipt has the stopped one's
// request hash, so it settled the stopped one's hold as if it were that leaf's: the first key paid for the second
// key's answer, and the second key paid for it too.
describe("a stopped stream, then the same body again", () => {
  const seen = { begun: 0, stopped: 0, finished: 0 };
  const pieces = 40;
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => ({ kind: "generate", pieces, delayMs: 15, seen })) }],
    served: true,
  });

  it("charges the answer once, to the key that got it, when a stopped stream's body is sent again", async () => {
    const { opened, nodes, parts, baseURL } = rig;
    const first = await parts.keys.create({ name: "stopper", budget: "1000" });
    const second = await parts.keys.create({ name: "regenerator", budget: "1000" });
    const body = LONG_CHAT;
    const stopped = await new OpenAI({ apiKey: first.key, baseURL, maxRetries: 0 }).chat.completions.create(
      body,
    );
    await stopAfter(stopped);
    await expect
      .poll(async () => (await parts.keys.get(first.view.id)).reserved, { timeout: 5_000 })
      .toBe("0");
    expect(parseEther((await parts.keys.get(first.view.id)).spent)).toBeGreaterThan(0n);
    const again = await new OpenAI({ apiKey: second.key, baseURL, maxRetries: 0 }).chat.completions.create(
      body,
    );
    let text = "";
    for await (const chunk of again) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("w".repeat(pieces));
    expect(nodes[0]!.leafReads).toEqual([{ nonce: 0n, found: false }]);
    await expect
      .poll(async () => (await parts.keys.get(second.view.id)).reserved, { timeout: 5_000 })
      .toBe("0");
    // One leaf, paid once: by the key that got its answer. The stopped stream's key gets its charge back.
    await expect
      .poll(async () => (await parts.keys.get(second.view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(costOfUnits(BigInt(3 + pieces), PRICE)));
    await expect.poll(async () => (await parts.keys.get(first.view.id)).spent, { timeout: 5_000 }).toBe("0");
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
    expect(seen).toEqual({ begun: 2, stopped: 1, finished: 1 });
  });
});
