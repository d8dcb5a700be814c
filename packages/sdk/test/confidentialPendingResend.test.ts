import { confidentialContext, openRequest, readConfidentialEnvelope, toHex } from "@atoma/confidential";
import { STACK_HEADERS } from "@atoma/core";
import { createAtomaClient, SealedAnswerError } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfidentialNetwork,
  type ConfidentialNode,
  startConfidentialNetwork,
} from "./confidentialNetwork.js";

const CHAT = "/v1/chat/completions";
let net: ConfidentialNetwork;
let A: ConfidentialNode;

beforeAll(async () => {
  net = await startConfidentialNetwork();
  [A] = net.nodes;
}, 240_000);
afterAll(async () => {
  await net?.stop();
}, 60_000);

const ask = (content: string) => ({
  model: net.model.id,
  messages: [{ role: "user", content }],
  max_tokens: 12,
  seed: 5,
});

async function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (v) => ({ resolved: v }),
    (e: unknown) => e,
  );
}

describe("a sealed stream left pending does not jam the direct confidential client (review3 H-1)", () => {
  it("after a sealed stream with a dropped chunk fails, the next calls resend it with its own opener and succeed", async () => {
    const { account } = await net.network.account();
    const client = createAtomaClient({
      network: net.networkText({ dev: true }),
      account,
      confidential: true,
      preferences: { only: [A.registered.nodeId] },
      stack: { units: 20_000n },
    });
    // One chunk dropped on the first stream only (an on-path attacker on an http node URL; or the cut could be honest).
    let tampered = false;
    A.relay.rewrite = (body, path) => {
      if (path !== CHAT || tampered || !body.includes("data: ")) return body;
      tampered = true;
      const events = body.split("\n\n").filter((e) => e.length > 0);
      const first = events.findIndex((e) => e.includes('"atoma.confidential.chunk"'));
      return `${events.filter((_, i) => i !== first).join("\n\n")}\n\n`;
    };
    const first = await settled(client.chatStream(ask("Count to five."), () => undefined));
    expect(first).toBeInstanceOf(SealedAnswerError);
    A.relay.rewrite = (body) => body;
    const postsBefore = A.relay.requests.filter((r) => r.path === CHAT).length;
    const second = await settled(client.chatStream(ask("Count to three."), () => undefined));
    const third = await settled(client.chat(ask("Say hi.")));
    const postsAfter = A.relay.requests.filter((r) => r.path === CHAT).length;
    // The failed stream is resent (read by its own opener under a new salt) before the next request, then each is served.
    expect(postsAfter - postsBefore).toBe(3);
    const answer = second as { resolved: { response: { choices: { message: { content: string } }[] } } };
    expect(answer.resolved.response.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect((third as { resolved: unknown }).resolved).toBeDefined();
  }, 180_000);
});

/**
 * A body that hands `text` to its reader, then breaks as a cut connection does. (Erroring a stream at once would
 * drop what was queued before the reader saw it.)
 */
function cutAfter(text: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new TypeError("terminated"));
      sent = true;
      controller.enqueue(new TextEncoder().encode(text));
    },
  });
}

/** A fetch whose first chat stream breaks after its first two sealed chunks (a cut connection, as on-path or a blip). */
function cutFirstStreamAfterTwoChunks(): typeof fetch {
  let cut = false;
  return async (input, init) => {
    const answer = await fetch(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (cut || !url.endsWith(CHAT) || !answer.headers.get("content-type")?.includes("text/event-stream"))
      return answer;
    cut = true;
    // Read as it comes, and cancelled after two sealed chunks (the test relay itself reads whole answers).
    const source = (answer.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while ((text.match(/"atoma\.confidential\.chunk"/g) ?? []).length < 3) {
      const { value, done } = await source.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await source.cancel();
    const events = text.split("\n\n").filter((e) => e.includes('"atoma.confidential.chunk"'));
    const chunks = events.slice(0, 2);
    return new Response(cutAfter(`${chunks.join("\n\n")}\n\n`), { status: 200, headers: answer.headers });
  };
}

/** Sampled and long: a resend generated again would differ. */
const sampled = (content: string) => ({
  model: net.model.id,
  messages: [{ role: "user", content }],
  max_tokens: 200,
  temperature: 1.5,
});

const contentShown = (chunks: Record<string, unknown>[]) =>
  chunks
    .map((c) => (c.choices as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content ?? "")
    .join("");

describe("a resend after a cut never splices two answers (review3 M-2)", () => {
  it("a stream cut after two chunks is resent: what was shown is exactly the answer returned", async () => {
    const { account } = await net.network.account();
    const client = createAtomaClient({
      network: net.networkText({ dev: true }),
      account,
      confidential: true,
      preferences: { only: [A.registered.nodeId] },
      stack: { units: 20_000n },
      fetch: cutFirstStreamAfterTwoChunks(),
    });
    let shown: Record<string, unknown>[] = [];
    let restarts = 0;
    const answer = await client.chatStream(
      sampled("Tell a long story."),
      (chunk) => shown.push(chunk),
      () => {
        restarts++;
        shown = [];
      },
    );
    // The node had committed it (the relay reads whole answers): the resend repeats the chunks shown, so it goes on
    // from them with no restart, and nothing is shown twice.
    expect(restarts).toBe(0);
    const content = (answer.response as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content;
    expect(contentShown(shown)).toBe(content);
  }, 180_000);
});

/**
 * The node's first try at a sealed stream, as a lying (or faulty) node sends it: two chunks of one answer, sealed
 * with the request's own HPKE context (the node's key opens it), then the connection cut. The resend reaches the
 * node itself, which never saw the first try, and answers with its own, different answer (and a valid receipt).
 */
function firstTryAnotherAnswer(node: ConfidentialNode): typeof fetch {
  let lied = false;
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (lied || !url.endsWith(CHAT) || init?.method !== "POST") return fetch(input, init);
    lied = true;
    const headers = new Headers(init.headers);
    const context = confidentialContext({
      stackId: BigInt(headers.get(STACK_HEADERS.stack)!),
      nonce: BigInt(headers.get(STACK_HEADERS.nonce)!),
      deadline: BigInt(headers.get(STACK_HEADERS.deadline)!),
      path: CHAT,
    });
    const envelope = readConfidentialEnvelope(JSON.parse(String(init.body)) as Record<string, unknown>);
    const { response: sealer } = await openRequest(await node.compute.privateKey(), envelope, context);
    const chunk = (content: string) => ({
      id: "chatcmpl-first-try",
      object: "chat.completion.chunk",
      created: 1,
      model: net.model.id,
      choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: null }],
    });
    const events = ["Once upon", " a different time"].map(
      (content) =>
        `data: ${JSON.stringify({
          object: "atoma.confidential.chunk",
          sealed: toHex(sealer.seal(new TextEncoder().encode(JSON.stringify(chunk(content))), false)),
        })}`,
    );
    return new Response(cutAfter(`${events.join("\n\n")}\n\n`), {
      status: 200,
      headers: { "content-type": "text/event-stream" },
    });
  };
}

describe("a resend that brings another answer is never spliced onto the chunks shown (review3 M-2, divergent path)", () => {
  const clientOfALiar = async () => {
    const { account } = await net.network.account();
    return createAtomaClient({
      network: net.networkText({ dev: true }),
      account,
      confidential: true,
      preferences: { only: [A.registered.nodeId] },
      stack: { units: 20_000n },
      fetch: firstTryAnotherAnswer(A),
    });
  };

  it("with onRestart: what was shown is dropped, the new answer shown from its start, and it is the answer returned", async () => {
    const client = await clientOfALiar();
    let shown: Record<string, unknown>[] = [];
    const beforeRestart: string[] = [];
    let restarts = 0;
    const answer = await client.chatStream(
      sampled("Tell a long story."),
      (chunk) => shown.push(chunk),
      () => {
        restarts++;
        beforeRestart.push(contentShown(shown));
        shown = [];
      },
    );
    const content = (answer.response as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content as string;
    expect(restarts).toBe(1);
    // The first try's chunks were shown, then dropped: the answer returned is the node's own, nothing spliced.
    expect(beforeRestart).toEqual(["Once upon a different time"]);
    expect(content.includes("Once upon")).toBe(false);
    expect(contentShown(shown)).toBe(content);
  }, 180_000);

  it("without onRestart: refused as answer_restarted rather than spliced", async () => {
    const client = await clientOfALiar();
    const shown: Record<string, unknown>[] = [];
    const error = await settled(
      client.chatStream(sampled("Tell a long story."), (chunk) => shown.push(chunk)),
    );
    expect(error).toBeInstanceOf(SealedAnswerError);
    expect((error as SealedAnswerError).failure).toBe("answer_restarted");
    // Nothing of the second answer was shown after the first's chunks.
    expect(contentShown(shown)).toBe("Once upon a different time");
  }, 180_000);
});

/**
 * A fetch whose first chat stream passes two sealed chunks, then an error naming a code the client answers by sealing
 * again (`confidential_replayed`): what a node, or anyone on the path to an http node URL, can send at any point.
 */
function resealAfterTwoChunks(): typeof fetch {
  let done = false;
  return async (input, init) => {
    const answer = await fetch(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (done || !url.endsWith(CHAT) || !answer.headers.get("content-type")?.includes("text/event-stream"))
      return answer;
    done = true;
    const text = await answer.text();
    const chunks = text
      .split("\n\n")
      .filter((e) => e.includes('"atoma.confidential.chunk"'))
      .slice(0, 2);
    const error = {
      message: "replayed",
      type: "invalid_request_error",
      param: null,
      code: "confidential_replayed",
    };
    const body = `${chunks.join("\n\n")}\n\ndata: ${JSON.stringify({ error })}\n\n`;
    return new Response(body, { status: 200, headers: answer.headers });
  };
}

describe("a request sealed again after chunks were shown never splices two answers (direct mode)", () => {
  const resealing = async () =>
    createAtomaClient({
      network: net.networkText({ dev: true }),
      account: (await net.network.account()).account,
      confidential: true,
      preferences: { only: [A.registered.nodeId] },
      stack: { units: 20_000n },
      fetch: resealAfterTwoChunks(),
    });

  it("calls onRestart before the resealed answer is shown: what was shown is exactly the answer returned", async () => {
    const client = await resealing();
    let shown: Record<string, unknown>[] = [];
    let restarts = 0;
    const answer = await client.chatStream(
      ask("Count to five."),
      (chunk) => shown.push(chunk),
      () => {
        restarts++;
        shown = [];
      },
    );
    expect(restarts).toBe(1);
    const content = (answer.response as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content;
    expect(content?.length).toBeGreaterThan(0);
    expect(contentShown(shown)).toBe(content);
  }, 180_000);

  it("without onRestart, fails rather than show the resealed answer after the chunks shown", async () => {
    const client = await resealing();
    const shown: Record<string, unknown>[] = [];
    const failed = await settled(client.chatStream(ask("Count to four."), (chunk) => shown.push(chunk)));
    expect(failed).toMatchObject({ code: "confidential_replayed" });
    expect(shown.length).toBe(2);
  }, 180_000);
});
