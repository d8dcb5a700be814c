import type { AddressInfo } from "node:net";
import {
  assertLeafReadSigner,
  atomaDomain,
  type Hash,
  LEAF_READ_HEADERS,
  leafDenialToWire,
  NO_REQUEST_NAMED,
  recoverRequestSigner,
  requestHash,
  responseHash,
  SEALED_ANSWER_OBJECT,
  STACK_HEADERS,
  signLeafDenial,
  signResponse,
  toReceipt,
} from "@atoma/core";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { type Address, type Hex, keccak256, type LocalAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/** How the fake node answers one request. */
export type NodeScript =
  | { kind: "honest"; delayMs?: number }
  | { kind: "forged"; signer: LocalAccount }
  /** Signs the honest receipt, then changes its signature (a recovery bit flipped, s negated). */
  | { kind: "bent"; bend: (signature: Hex) => Hex }
  /** Signs more units than the answer's usage adds up to. */
  | { kind: "overcharge" }
  | { kind: "refuse"; status: number; code: string }
  /**
   * Commits the request (its running total grows by `extra`, the made-up leaves it will settle) and answers 409
   * `nonce_out_of_order` naming a nonce `ahead` past the one signed, keeping the owner's signature.
   */
  | { kind: "jump"; ahead: bigint; extra: bigint }
  /** Sends nothing, not even headers, until the gateway gives up. */
  | { kind: "hang" }
  /** Drops the connection without an answer (as a node that crashed). */
  | { kind: "drop" }
  /**
   * Drops the connection of a plain (not streamed) request as `drop` does, yet goes on `finishMs` and commits the leaf
   * (a cut it does not see yet); meanwhile any request on the stack is answered 409 `request_in_flight`.
   */
  | {
      kind: "dropThenFinish";
      finishMs: number;
      /** The answer's completion tokens (each a "w"), all billed with its 3 prompt tokens. @default 2 */
      completionTokens?: number;
    }
  /** Streams part of the answer, then drops the connection; a resend gets the committed answer in one chunk. */
  | { kind: "breakStream" }
  /**
   * Commits the leaf, streams part of the answer, then ends the stream with an error event (`code`): its answer says
   * it failed, yet a resend gets the committed answer and its receipt (refuse-then-bill).
   */
  | {
      kind: "errorMidStream";
      code: string;
      /** false: an honest failure, nothing committed (a resend would generate the answer again). @default true */
      commits?: boolean;
    }
  /**
   * Streams part of the answer, then its connection breaks (as a cut between node and gateway the node does not see
   * yet): it goes on `finishMs` and commits the leaf. Meanwhile any request on the stack, the same one resent
   * included, is answered 409 `request_in_flight`, as a real node answers while a stack's request is in flight.
   */
  | {
      kind: "cutThenFinish";
      finishMs: number;
      /**
       * The leaf it commits bills the owner's whole signed bound (a node cutting streams on purpose): "bound" with the
       * answer's usage left as it was (units past the usage), "fabricated" with the usage made up to match.
       */
      bills?: "bound" | "fabricated";
    }
  /** Streams the text with `delayMs` between its pieces (a client can stop it half way); the leaf is committed first. */
  | { kind: "slowChunks"; delayMs: number }
  /** Streams the whole text, then waits `delayMs` before the final (receipt) event; the leaf is committed first. */
  | { kind: "slowFinal"; delayMs: number }
  /** Signs a receipt whose usage (and units, consistently) claims far more prompt tokens than the request had. */
  | { kind: "inflate"; promptTokens: number }
  /** Answers a stream with `bytes` bytes that never end an event (no blank line), counting what was pulled. */
  | { kind: "flood"; bytes: number; pulled: { bytes: number } }
  | { kind: "bigText"; bytes: number }
  /** Signs the honest answer, then adds to it fields the response hash does not cover. */
  | { kind: "inject"; fields: Record<string, unknown> }
  /** Streams `text` (what it signs) as `pieces`, each under the choice index given: they add up to `text`. */
  | { kind: "splitChoices"; text: string; pieces: [number, string][] }
  /** Signs a call to get_weather, streams it, then a delta naming the same call `rename` (ignored by the SDK). */
  | { kind: "renameCall"; rename: string }
  /** Streams "Hello, world" (what it signs) plus a tool-call delta at a fractional index, which the SDK drops. */
  | { kind: "hiddenCall"; name: string }
  /**
   * As a real node streams: `pieces` one-token chunks `delayMs` apart, the leaf committed only when generation ends
   * (its units: 3 prompt tokens plus `pieces`); a client that goes away stops it and nothing is recorded, so a resend
   * generates it again from the start. `seen` counts generations begun, stopped and finished.
   */
  | {
      kind: "generate";
      pieces: number;
      delayMs: number;
      seen: { begun: number; stopped: number; finished: number };
    };

/** A started fake node (`startFakeNode`). */
export type FakeNode = Awaited<ReturnType<typeof startFakeNode>>;
/** What `startFakeNode` takes beside its script: strict nonces, stalled leaf reads, lies. */
export type FakeNodeOptions = NonNullable<Parameters<typeof startFakeNode>[5]>;

/** A script that answers streamed requests as `streamed()` says at the time, and plain ones honestly. */
export const streamsAs =
  (streamed: () => NodeScript) =>
  (body: Record<string, unknown>): NodeScript =>
    body.stream === true ? streamed() : { kind: "honest" };

/**
 * A node that answers chat requests the way a real one does (signed receipt over the request's hash and the
 * response's hash, running totals per stack) or as scripted: forged, or refused with an OpenAI-shaped error.
 */
export async function startFakeNode(
  account: LocalAccount,
  nodeId: bigint,
  chainId: number,
  stackManager: Address,
  /** Called with each request's body. */
  script: (body: Record<string, unknown>) => NodeScript,
  options: {
    /**
     * As a real node: a request at a nonce holding another request's committed leaf is refused 409 `nonce_reused`
     * (naming the next nonce). @default false (the leaf is signed again)
     */
    strictNonces?: boolean;
    /** Leaf reads get no answer until their client gives up (a node stalling them). @default false */
    stallLeafReads?: { on: boolean };
    /**
     * What a leaf read shows of a clear leaf's answer: "answer" (as the real node), "none" (the `response` left out),
     * "sealed" (a made-up `{object: SEALED_ANSWER_OBJECT}` in its place, as if the request were sealed).
     * @default { shows: "answer" }
     */
    leafAnswer?: { shows: "answer" | "none" | "sealed" };
    /**
     * Lies a node can tell to keep a stack's nonce in flight for ever: `leafReadStatus` answers every leaf read with
     * that bare status; `expiredFirst` answers a request past its signed deadline 401 `request_expired`, even one it
     * still has in flight (so that its owner signs it again with a new deadline); `leafNotFound` answers that many leaf
     * reads 404 `leaf_not_found` whatever stands there, and `dropRequests` drops that many requests' connections before
     * looking at them (each counted down); `claimReused` answers every request 409 `nonce_reused` (naming the next
     * nonce), and `leafReadFlood` answers leaf reads with a leaf whose `response` runs on for `bytes`, counting what
     * its reader pulled.
     */
    lies?: {
      leafReadStatus?: number;
      expiredFirst?: boolean;
      leafNotFound?: number;
      dropRequests?: number;
      claimReused?: boolean;
      leafReadFlood?: { bytes: number; pulled: { bytes: number } };
      /**
       * How its `leaf_not_found` for a read naming its request carries the node's signed denial: `unsigned` sends
       * none, `forged` one signed by another key, `otherRequest` one of another request hash. @default valid
       */
      denial?: "unsigned" | "forged" | "otherRequest";
      /**
       * How the next requests are refused, one entry each (shifted): `denied` 409 `leaf_denied` with the node's
       * signed denial of that request at its nonce (as the real node's), `refused` 400 (refused outright, no denial).
       */
      refuseNext?: ("denied" | "refused")[];
    };
  } = {},
): Promise<{
  url: string;
  requests: Record<string, unknown>[];
  /** Each request's stack envelope headers as received (the owner's signature a node can show on-chain). */
  envelopes: Record<string, string>[];
  /** Leaf reads answered (`GET /v1/stacks/{id}/leaves/{nonce}`), found or not. */
  leafReads: { nonce: bigint; found: boolean }[];
  /** The running total the node committed for a stack (what it can bill). */
  billed(stackId: bigint): bigint;
  /** Resolves once no request is still being finished (`cutThenFinish`, `dropThenFinish`): its leaf is committed. */
  finished(): Promise<void>;
  reset(): void;
  stop(): Promise<void>;
}> {
  const requests: Record<string, unknown>[] = [];
  const envelopes: Record<string, string>[] = [];
  const totals = new Map<string, bigint>();
  /** Committed streamed answers by stack and nonce: a resend is answered from here, never charged again. */
  const committed = new Map<string, Record<string, unknown>>();
  const domain = atomaDomain(chainId, stackManager);
  /** The owner's signed request fields of each committed leaf (by stack and nonce): what a leaf read shows. */
  const signedAt = new Map<
    string,
    { request_hash: Hash; nonce: string; deadline: string; max_units: string; signature: Hash }
  >();
  /** Stacks with a request still being finished (`cutThenFinish`): any request on them is refused meanwhile. */
  const inFlight = new Set<string>();
  /** The answer (without its atoma object) of each committed leaf that keeps one: a leaf read shows it. */
  const responses = new Map<string, Record<string, unknown>>();
  const leafReads: { nonce: bigint; found: boolean }[] = [];
  /** Keeps a streamed answer's receipt as the leaf at its stack and nonce, with the owner's signed request. */
  const commit = (
    key: string,
    atoma: Record<string, unknown>,
    header: (name: string) => string,
    response?: Record<string, unknown>,
  ) => {
    committed.set(key, atoma);
    if (response) responses.set(key, response);
    signedAt.set(key, {
      request_hash: atoma.request_hash as Hash,
      nonce: header(STACK_HEADERS.nonce),
      deadline: header(STACK_HEADERS.deadline),
      max_units: header(STACK_HEADERS.maxUnits),
      signature: header(STACK_HEADERS.signature) as Hash,
    });
  };
  /** A receipt for the stack's next `units`, moving its running total on, signed by `signer`. */
  const receipt = async (
    ids: { stackId: bigint; nonce: bigint },
    body: Record<string, unknown>,
    response: Record<string, unknown>,
    units: bigint,
    signer: LocalAccount = account,
  ) => {
    const cumulativeUnits = (totals.get(String(ids.stackId)) ?? 0n) + units;
    totals.set(String(ids.stackId), cumulativeUnits);
    const fields = {
      stackId: ids.stackId,
      leafIndex: ids.nonce,
      nonce: ids.nonce,
      reqHash: requestHash(body),
      respHash: responseHash(response),
      units,
      cumulativeUnits,
      seed: 1n,
    };
    return toReceipt(nodeId, fields, await signResponse(signer, domain, fields));
  };
  /** The `response` a leaf read carries for a committed clear answer (`leafAnswer`). */
  const shownAnswer = (response: Record<string, unknown>) => {
    const shows = options.leafAnswer?.shows ?? "answer";
    if (shows === "none") return {};
    if (shows === "sealed") return { response: { object: SEALED_ANSWER_OBJECT, sealed: "0x00" } };
    return { response };
  };
  /** A 404 `leaf_not_found`, with the node's signed denial of the request the read named (as the real node). */
  const noLeaf = async (stackId: bigint, nonce: bigint, named: string | undefined) => {
    const error = { message: "no leaf", type: "not_found_error", param: null, code: "leaf_not_found" };
    const how = options.lies?.denial;
    if (named === undefined || how === "unsigned") return { error };
    const reqHash = (how === "otherRequest" ? keccak256(toHex(named)) : named) as Hash;
    const fields = { stackId, nonce, reqHash };
    const signer = how === "forged" ? privateKeyToAccount(generatePrivateKey()) : account;
    return {
      error,
      denial: leafDenialToWire({ fields, signature: await signLeafDenial(signer, domain, fields) }),
    };
  };
  const app = new Hono();
  // As the real node's `leafReadRoute`: the stack owner's signed read (the signer of the leaf's request) only.
  app.get("/v1/stacks/:stackId/leaves/:nonce", async (c) => {
    const stackId = BigInt(c.req.param("stackId"));
    const nonce = BigInt(c.req.param("nonce"));
    const shown = signedAt.get(`${stackId}:${nonce}`);
    const atoma = committed.get(`${stackId}:${nonce}`);
    leafReads.push({ nonce, found: shown !== undefined });
    if (options.stallLeafReads?.on) {
      await new Promise((resolve) => {
        c.req.raw.signal.addEventListener("abort", resolve);
        setTimeout(resolve, 10_000);
      });
      return c.body(null, 503);
    }
    const flood = options.lies?.leafReadFlood;
    if (flood) {
      const head = new TextEncoder().encode('{"object":"stack.leaf","response":{"pad":"');
      const filler = new TextEncoder().encode("a".repeat(65_536));
      let first = true;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (flood.pulled.bytes >= flood.bytes) return controller.close();
          const part = first ? head : filler;
          first = false;
          flood.pulled.bytes += part.length;
          controller.enqueue(part);
        },
      });
      return new Response(stream, { headers: { "content-type": "application/json" } });
    }
    const named = c.req.header(LEAF_READ_HEADERS.requestHash);
    if (options.lies?.leafNotFound) {
      options.lies.leafNotFound--;
      return c.json(await noLeaf(stackId, nonce, named), 404);
    }
    if (options.lies?.leafReadStatus !== undefined)
      return c.json(
        { error: { message: "failed", type: "x", param: null, code: "internal" } },
        options.lies.leafReadStatus as 500,
      );
    // As the real node: no leaf yet at the nonce of a request it is still answering, which may commit there.
    if ((!shown || !atoma) && inFlight.has(String(stackId)))
      return c.json(
        { error: { message: "in flight", type: "conflict_error", param: null, code: "request_in_flight" } },
        409,
      );
    if (!shown || !atoma) return c.json(await noLeaf(stackId, nonce, named), 404);
    const owner = await recoverRequestSigner(
      domain,
      {
        stackId,
        reqHash: shown.request_hash,
        nonce,
        deadline: BigInt(shown.deadline),
        maxUnits: BigInt(shown.max_units),
      },
      shown.signature,
    );
    await assertLeafReadSigner(
      domain,
      {
        stackId,
        nonce,
        deadline: BigInt(c.req.header(LEAF_READ_HEADERS.deadline) ?? "0"),
        salt: (c.req.header(LEAF_READ_HEADERS.salt) ?? "0x") as Hash,
        reqHash: (named ?? NO_REQUEST_NAMED) as Hash,
      },
      (c.req.header(LEAF_READ_HEADERS.signature) ?? "0x") as Hash,
      owner,
    );
    return c.json({
      object: "stack.leaf",
      stack_id: String(stackId),
      nonce: String(nonce),
      request: shown,
      atoma,
      ...(responses.has(`${stackId}:${nonce}`) ? shownAnswer(responses.get(`${stackId}:${nonce}`)!) : {}),
    });
  });
  app.post("/v1/chat/completions", async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    requests.push(body);
    envelopes.push(
      Object.fromEntries(Object.values(STACK_HEADERS).map((name) => [name, c.req.header(name) ?? ""])),
    );
    const plan = script(body);
    const header = (name: string) => c.req.header(name) ?? "0";
    const here = `${header(STACK_HEADERS.stack)}:${header(STACK_HEADERS.nonce)}`;
    if (options.lies?.claimReused)
      return c.json(
        { error: { message: "nonce used", type: "conflict_error", param: null, code: "nonce_reused" } },
        409,
        { [STACK_HEADERS.nextNonce]: String(BigInt(header(STACK_HEADERS.nonce)) + 1n) },
      );
    const refusal = options.lies?.refuseNext?.shift();
    if (refusal === "refused")
      return c.json(
        { error: { message: "no", type: "invalid_request_error", param: null, code: "bad" } },
        400,
      );
    if (refusal === "denied") {
      const fields = {
        stackId: BigInt(header(STACK_HEADERS.stack)),
        nonce: BigInt(header(STACK_HEADERS.nonce)),
        reqHash: requestHash(body),
      };
      const denial = leafDenialToWire({ fields, signature: await signLeafDenial(account, domain, fields) });
      return c.json(
        { error: { message: "denied", type: "conflict_error", param: null, code: "leaf_denied" }, denial },
        409,
      );
    }
    if (options.lies?.dropRequests) {
      options.lies.dropRequests--;
      (c.env as { incoming: { socket: { destroy(): void } } }).incoming.socket.destroy();
      return c.body(null, 503);
    }
    if (options.lies?.expiredFirst && Number(header(STACK_HEADERS.deadline)) * 1000 <= Date.now())
      return c.json({ error: { message: "expired", type: "x", param: null, code: "request_expired" } }, 401);
    if (inFlight.has(header(STACK_HEADERS.stack)))
      return c.json(
        { error: { message: "in flight", type: "conflict_error", param: null, code: "request_in_flight" } },
        409,
      );
    const leafHere = committed.get(here);
    if (options.strictNonces && leafHere && leafHere.request_hash !== requestHash(body)) {
      const taken = [...committed.keys()]
        .filter((key) => key.startsWith(`${header(STACK_HEADERS.stack)}:`))
        .map((key) => BigInt(key.split(":")[1]!));
      // biome-ignore lint/complexity/useMathMinMax: bigints
      const next = taken.reduce((max, n) => (n > max ? n : max), 0n) + 1n;
      return c.json(
        { error: { message: "nonce used", type: "conflict_error", param: null, code: "nonce_reused" } },
        409,
        { [STACK_HEADERS.nextNonce]: String(next) },
      );
    }
    if (plan.kind === "hang") {
      await new Promise((resolve) => {
        c.req.raw.signal.addEventListener("abort", resolve);
        setTimeout(resolve, 3_000);
      });
      return c.body(null, 503);
    }
    if (plan.kind === "dropThenFinish") {
      const tokens = plan.completionTokens ?? 2;
      const answer = {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: plan.completionTokens ? "w".repeat(tokens) : "fake" },
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: 3 + tokens },
      };
      const ids = {
        stackId: BigInt(header(STACK_HEADERS.stack)),
        nonce: BigInt(header(STACK_HEADERS.nonce)),
      };
      const atoma = (await receipt(ids, body, answer, BigInt(3 + tokens))) as unknown as Record<
        string,
        unknown
      >;
      inFlight.add(header(STACK_HEADERS.stack));
      setTimeout(() => {
        commit(here, atoma, header, answer);
        inFlight.delete(String(ids.stackId));
      }, plan.finishMs);
      (c.env as { incoming: { socket: { destroy(): void } } }).incoming.socket.destroy();
      return c.body(null, 503);
    }
    if (plan.kind === "drop") {
      (c.env as { incoming: { socket: { destroy(): void } } }).incoming.socket.destroy();
      return c.body(null, 503);
    }
    if (plan.kind === "jump") {
      const stackKey = c.req.header(STACK_HEADERS.stack) ?? "0";
      const next = BigInt(c.req.header(STACK_HEADERS.nonce) ?? "0") + plan.ahead;
      totals.set(stackKey, (totals.get(stackKey) ?? 0n) + plan.extra);
      return c.json(
        { error: { message: "out of order", type: "x", param: null, code: "nonce_out_of_order" } },
        409,
        { [STACK_HEADERS.nextNonce]: String(next) },
      );
    }
    if (plan.kind === "refuse")
      return c.json(
        { error: { message: "refused", type: "x", param: null, code: plan.code } },
        plan.status as 400,
      );
    if (plan.kind === "honest" && plan.delayMs)
      await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
    const stackId = BigInt(c.req.header(STACK_HEADERS.stack) ?? "0");
    const nonce = BigInt(c.req.header(STACK_HEADERS.nonce) ?? "0");
    if (body.stream === true && plan.kind === "bigText") {
      const head = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model: body.model };
      const event = new TextEncoder().encode(
        `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { content: "word ".repeat(3000) }, finish_reason: null }] })}\n\n`,
      );
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= plan.bytes) return controller.close();
          sent += event.length;
          controller.enqueue(event);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    if (body.stream === true && plan.kind === "flood") {
      const filler = new TextEncoder().encode(`data: ${"a".repeat(65_530)}`.slice(0, 65_536));
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (plan.pulled.bytes >= plan.bytes) return controller.close();
          plan.pulled.bytes += filler.length;
          controller.enqueue(filler);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    if (body.stream === true && plan.kind === "generate") {
      const replay = committed.get(`${stackId}:${nonce}`);
      const head = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model: body.model };
      const event = (data: unknown) => new TextEncoder().encode(`data: ${JSON.stringify(data)}\n\n`);
      const usage = { prompt_tokens: 3, completion_tokens: plan.pieces, total_tokens: 3 + plan.pieces };
      const text = "w".repeat(plan.pieces);
      let stopped = false;
      if (!replay) plan.seen.begun++;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          if (replay) {
            controller.enqueue(
              event({ ...head, choices: [{ index: 0, delta: { content: text }, finish_reason: "stop" }] }),
            );
          } else
            for (let i = 0; i < plan.pieces; i++) {
              if (i > 0) await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
              if (stopped) {
                plan.seen.stopped++;
                return;
              }
              const last = i === plan.pieces - 1;
              controller.enqueue(
                event({
                  ...head,
                  choices: [{ index: 0, delta: { content: "w" }, finish_reason: last ? "stop" : null }],
                }),
              );
            }
          let atoma = replay;
          if (!atoma) {
            const assembled = {
              id: "chatcmpl-fake",
              object: "chat.completion",
              created: 1,
              model: body.model,
              choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
              usage,
            };
            atoma = (await receipt(
              { stackId, nonce },
              body,
              assembled,
              BigInt(3 + plan.pieces),
            )) as unknown as Record<string, unknown>;
            commit(`${stackId}:${nonce}`, atoma, header, assembled);
            plan.seen.finished++;
          }
          controller.enqueue(event({ ...head, choices: [], usage, atoma }));
          controller.enqueue(new TextEncoder().encode("data: [DONE]\n\n"));
          controller.close();
        },
        cancel() {
          stopped = true;
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    if (body.stream === true && plan.kind === "renameCall") {
      const call = {
        id: "call_1",
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Paris"}' },
      };
      const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
      const ids = {
        stackId: BigInt(c.req.header(STACK_HEADERS.stack) ?? "0"),
        nonce: BigInt(c.req.header(STACK_HEADERS.nonce) ?? "0"),
      };
      const signed = {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: null, tool_calls: [call] },
            finish_reason: "tool_calls",
          },
        ],
        usage,
      };
      const atoma = await receipt(ids, body, signed, 5n);
      const head = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model: body.model };
      const deltas = [
        {
          role: "assistant",
          tool_calls: [
            { index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } },
          ],
        },
        { tool_calls: [{ index: 0, function: { name: plan.rename, arguments: '{"city":"Paris"}' } }] },
      ];
      const events = [
        ...deltas.map((delta, i) => ({
          ...head,
          choices: [{ index: 0, delta, finish_reason: i === 1 ? "tool_calls" : null }],
        })),
        { ...head, choices: [], usage, atoma },
      ];
      const text = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
      return new Response(text, { headers: { "content-type": "text/event-stream" } });
    }
    if (body.stream === true) {
      const key = `${stackId}:${nonce}`;
      const replay = committed.get(key);
      const bound = BigInt(header(STACK_HEADERS.maxUnits));
      const fabricated = plan.kind === "cutThenFinish" && plan.bills === "fabricated";
      const usage =
        (responses.get(key)?.usage as Record<string, number> | undefined) ??
        (fabricated
          ? { prompt_tokens: 3, completion_tokens: Number(bound) - 3, total_tokens: Number(bound) }
          : { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
      const text = plan.kind === "splitChoices" ? plan.text : "Hello, world";
      let atoma = replay;
      const honestFailure = plan.kind === "errorMidStream" && plan.commits === false && !replay;
      if (!atoma && honestFailure) atoma = {};
      let assembled: Record<string, unknown> | undefined;
      if (!atoma) {
        assembled = {
          id: "chatcmpl-fake",
          object: "chat.completion",
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
          usage,
        };
        const signer = plan.kind === "forged" ? plan.signer : account;
        const units = plan.kind === "cutThenFinish" && plan.bills !== undefined ? bound : 5n;
        atoma = (await receipt({ stackId, nonce }, body, assembled, units, signer)) as unknown as Record<
          string,
          unknown
        >;
        if (plan.kind !== "cutThenFinish") commit(key, atoma, header, assembled);
      }
      const split = plan.kind === "splitChoices" ? plan.pieces : undefined;
      const pieces = replay ? [text] : split ? split.map(([, piece]) => piece) : ["Hel", "lo, ", "world"];
      const hidden =
        plan.kind === "hiddenCall"
          ? [{ index: 0.5, id: "call_x", type: "function", function: { name: plan.name, arguments: "{}" } }]
          : undefined;
      const breaks = (plan.kind === "breakStream" || plan.kind === "cutThenFinish") && !replay;
      if (plan.kind === "cutThenFinish" && !replay) {
        const finished = atoma;
        const answer = assembled;
        inFlight.add(String(stackId));
        setTimeout(() => {
          commit(key, finished, header, answer);
          inFlight.delete(String(stackId));
        }, plan.finishMs).unref();
      }
      const event = (data: unknown) => new TextEncoder().encode(`data: ${JSON.stringify(data)}\n\n`);
      const chunk = (content: string, last: boolean, index = 0) => ({
        id: "chatcmpl-fake",
        object: "chat.completion.chunk",
        created: 1,
        model: body.model,
        choices: [
          {
            index,
            delta: { content, ...(hidden && last ? { tool_calls: hidden } : {}) },
            finish_reason: last ? "stop" : null,
          },
        ],
      });
      const socket = (c.env as { incoming: { socket: { destroy(): void } } }).incoming.socket;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          for (const [i, piece] of pieces.entries()) {
            if (breaks && i === 2) {
              setTimeout(() => socket.destroy(), 50);
              return;
            }
            if (plan.kind === "errorMidStream" && !replay && i === 2) {
              controller.enqueue(
                event({ error: { message: "generation failed", type: "x", param: null, code: plan.code } }),
              );
              controller.close();
              return;
            }
            if (plan.kind === "slowChunks" && i > 0 && !replay)
              await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
            controller.enqueue(event(chunk(piece, i === pieces.length - 1, split?.[i]?.[0] ?? 0)));
          }
          if (plan.kind === "slowFinal") await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
          const final = {
            id: "chatcmpl-fake",
            object: "chat.completion.chunk",
            created: 1,
            model: body.model,
          };
          controller.enqueue(event({ ...final, choices: [], usage, atoma }));
          controller.enqueue(new TextEncoder().encode("data: [DONE]\n\n"));
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    const response = {
      id: "chatcmpl-fake",
      object: "chat.completion",
      created: 1,
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: "fake" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    };
    if (plan.kind === "inflate")
      response.usage = {
        prompt_tokens: plan.promptTokens,
        completion_tokens: 2,
        total_tokens: plan.promptTokens + 2,
      };
    const units =
      plan.kind === "overcharge" ? 7n : plan.kind === "inflate" ? BigInt(plan.promptTokens + 2) : 5n;
    const signer = plan.kind === "forged" ? plan.signer : account;
    const signed = await receipt({ stackId, nonce }, body, response, units, signer);
    const atoma = plan.kind === "bent" ? { ...signed, signature: plan.bend(signed.signature) } : signed;
    if (plan.kind === "inject") {
      const [choice] = response.choices;
      return c.json({
        ...response,
        choices: [{ ...choice, message: { ...choice!.message, ...plan.fields } }],
        atoma,
      });
    }
    return c.json({ ...response, atoma });
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    leafReads,
    billed: (stackId) => totals.get(String(stackId)) ?? 0n,
    finished: async () => {
      while (inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    envelopes,
    reset: () => {
      totals.clear();
      committed.clear();
      signedAt.clear();
      leafReads.length = 0;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
