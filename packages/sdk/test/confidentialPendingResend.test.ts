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
    const events = await sealedChunks(node, init, ["Once upon", " a different time"]);
    return new Response(cutAfter(`${events.join("\n\n")}\n\n`), {
      status: 200,
      headers: { "content-type": "text/event-stream" },
    });
  };
}

/** Stream events of chunks sealed as the node would seal them for the signed request `init` sends (its key opens it). */
async function sealedChunks(
  node: ConfidentialNode,
  init: RequestInit,
  contents: string[],
): Promise<string[]> {
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
  return contents.map(
    (content) =>
      `data: ${JSON.stringify({
        object: "atoma.confidential.chunk",
        sealed: toHex(sealer.seal(new TextEncoder().encode(JSON.stringify(chunk(content))), false)),
      })}`,
  );
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
 * A reseal after chunks were shown, caused the one way the client allows it (review sdk M-1). The first try never
 * reaches the node: two chunks sealed with the node's key, then a clear error event (nobody's word: a cut, so the same
 * signed request is resent); the resend is refused by HTTP as `confidential_undecryptable` (nothing opened), so the
 * request is sealed again, at the nonce the node never used: another answer, never shown after the first's chunks.
 * `posts` records each chat POST's nonce and signature as the client sent it.
 */
function resealAfterTwoChunks(
  node: ConfidentialNode,
  posts: { nonce: string; signature: string }[],
): typeof fetch {
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!url.endsWith(CHAT) || init?.method !== "POST") return fetch(input, init);
    const headers = new Headers(init.headers);
    posts.push({
      nonce: headers.get(STACK_HEADERS.nonce) ?? "",
      signature: headers.get(STACK_HEADERS.signature) ?? "",
    });
    if (posts.length > 2) return fetch(input, init);
    const error = (code: string) => ({ message: "x", type: "invalid_request_error", param: null, code });
    if (posts.length === 2)
      return Response.json({ error: error("confidential_undecryptable") }, { status: 409 });
    const events = await sealedChunks(node, init, ["One,", " two,"]);
    const body = `${events.join("\n\n")}\n\ndata: ${JSON.stringify({ error: error("confidential_replayed") })}\n\n`;
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  };
}

describe("a request sealed again after chunks were shown never splices two answers (direct mode)", () => {
  const resealing = async (posts: { nonce: string; signature: string }[]) =>
    createAtomaClient({
      network: net.networkText({ dev: true }),
      account: (await net.network.account()).account,
      confidential: true,
      preferences: { only: [A.registered.nodeId] },
      stack: { units: 20_000n },
      fetch: resealAfterTwoChunks(A, posts),
    });

  it("calls onRestart before the resealed answer is shown: what was shown is exactly the answer returned", async () => {
    const posts: { nonce: string; signature: string }[] = [];
    const client = await resealing(posts);
    let shown: Record<string, unknown>[] = [];
    const beforeRestart: string[] = [];
    let restarts = 0;
    const answer = await client.chatStream(
      ask("Count to five."),
      (chunk) => shown.push(chunk),
      () => {
        restarts++;
        beforeRestart.push(contentShown(shown));
        shown = [];
      },
    );
    // The clear error resent the same signed request; only its HTTP refusal sealed it again (one nonce: never used).
    expect(posts.length).toBe(3);
    expect(new Set(posts.map((p) => p.nonce)).size).toBe(1);
    expect(posts[1]?.signature).toBe(posts[0]?.signature);
    expect(posts[2]?.signature).not.toBe(posts[0]?.signature);
    expect(restarts).toBe(1);
    expect(beforeRestart).toEqual(["One, two,"]);
    const content = (answer.response as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content;
    expect(content?.length).toBeGreaterThan(0);
    expect(contentShown(shown)).toBe(content);
  }, 180_000);

  it("without onRestart, fails rather than show the resealed answer after the chunks shown", async () => {
    const posts: { nonce: string; signature: string }[] = [];
    const client = await resealing(posts);
    const shown: Record<string, unknown>[] = [];
    const failed = await settled(client.chatStream(ask("Count to four."), (chunk) => shown.push(chunk)));
    expect(failed).toMatchObject({ code: "confidential_undecryptable" });
    expect(contentShown(shown)).toBe("One, two,");
    // Failed before sealing again: the resend was the last request sent.
    expect(posts.length).toBe(2);
  }, 180_000);
});

/**
 * Review sdk M-1: an honest node seals every error after a sealed request opened, so a clear `error` event inside a
 * sealed stream is unauthenticated (injected on the path, or by the host outside the TD). It must never make the client
 * seal again at the next nonce (a second charge, spliced onto the chunks shown), nor call an active stack spent and put
 * an honest node aside: it is a broken connection, and the same signed request is resent.
 */
describe("a clear error event injected into a sealed stream (review sdk M-1)", () => {
  for (const code of ["confidential_undecryptable", "confidential_replayed", "stack_closed"])
    it(`after two sealed chunks, a clear "${code}" is a cut: the same signed request, one charge, nobody aside`, async () => {
      const { account } = await net.network.account();
      const aside: string[] = [];
      const client = createAtomaClient({
        network: net.networkText({ dev: true }),
        account,
        confidential: true,
        preferences: { only: [A.registered.nodeId] },
        stack: { units: 20_000n },
        onNodePutAside: (_nodeId, reason) => aside.push(reason),
      });
      // Warm the stack (bought and attested) so that every chat POST below is this call's.
      await client.chat(ask("Say hi."));
      const before = A.relay.requests.length;
      let injected = false;
      A.relay.rewrite = (body, path) => {
        if (path !== CHAT || injected || !body.includes("data: ")) return body;
        injected = true;
        const events = body.split("\n\n").filter((e) => e.includes('"atoma.confidential.chunk"'));
        const error = { error: { message: "x", type: "x", code } };
        return `${events.slice(0, 2).join("\n\n")}\n\ndata: ${JSON.stringify(error)}\n\n`;
      };
      let shown: Record<string, unknown>[] = [];
      let restarts = 0;
      try {
        const answer = await client.chatStream(
          sampled("Tell a long story."),
          (chunk) => shown.push(chunk),
          () => {
            restarts++;
            shown = [];
          },
        );
        expect(injected).toBe(true);
        const posts = A.relay.requests.slice(before).filter((r) => r.method === "POST" && r.path === CHAT);
        // Resent unchanged: one nonce, one signature, so one leaf charged.
        expect(posts.length).toBeGreaterThanOrEqual(2);
        expect(new Set(posts.map((p) => p.headers[STACK_HEADERS.nonce])).size).toBe(1);
        expect(new Set(posts.map((p) => p.headers[STACK_HEADERS.signature])).size).toBe(1);
        expect(aside).toEqual([]);
        // The node committed it: the resend repeats the chunks shown, so nothing is shown twice or spliced.
        expect(restarts).toBe(0);
        const content = (answer.response as { choices: { message: { content: string } }[] }).choices[0]
          ?.message.content;
        expect(contentShown(shown)).toBe(content);
      } finally {
        A.relay.rewrite = (body) => body;
      }
    }, 180_000);
});
