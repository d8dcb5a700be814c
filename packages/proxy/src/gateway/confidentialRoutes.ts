import { readConfidentialEnvelope } from "@atoma/confidential";
import { InvalidInputError, requestHash, SEALED_ANSWER_OBJECT, SEALED_RESTART_OBJECT } from "@atoma/core";
import type { Context } from "hono";
import { z } from "zod";
import {
  AttestationRateLimitedError,
  AttestationUnavailableError,
  ConfidentialEnvelopeInvalidError,
  ConfidentialRequiredError,
  ConfidentialUnsupportedError,
} from "../confidentialErrors.js";
import { ModelNotFoundError } from "../errors.js";
import { authenticate, keyAllows } from "../keys/authenticate.js";
import type { Endpoint } from "../limits/requestBound.js";
import type { ServedStatementKeeper } from "../refunds/servedStatement.js";
import { type ConfidentialSessions, MAX_FRESH_QUOTES_PER_SESSION } from "./confidentialSessions.js";
import type { AttestationAnswer, ConfidentialUpstream } from "./confidentialUpstream.js";
import { errorResponseOf } from "./errorResponse.js";
import type { FreshQuoteAllowance } from "./freshQuoteAllowance.js";
import type { GatewayParts } from "./gatewayParts.js";
import { readJsonBody } from "./readJsonBody.js";
import { SSE_HEADERS, signedRequestOf, sseEvent } from "./sse.js";
import type { UpstreamAnswer } from "./upstream.js";

/** The header naming the session a sealed request was sealed for. */
export const CONFIDENTIAL_SESSION_HEADER = "x-atoma-confidential-session";

/** The gateway's confidential part: the sessions, and the upstream that holds their stacks. */
export interface ConfidentialParts {
  sessions: ConfidentialSessions;
  upstream: ConfidentialUpstream;
  /** Keeps the statement a node served a key's session beside its epoch evidence (issue 14, C-2: refunds). */
  statements?: ServedStatementKeeper | undefined;
  /**
   * Fresh quotes each key may ask nodes for (their 429 then: the client takes the node's epoch evidence), so one key
   * cannot spend the gateway's share of a node's quote budget. Unset: only `MAX_FRESH_QUOTES_PER_SESSION` bounds it.
   */
  freshQuotes?: FreshQuoteAllowance | undefined;
}

const ENDPOINTS: Record<string, Endpoint> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "completions",
  "/v1/embeddings": "embeddings",
};

const sessionRequest = z
  .object({
    model: z.string().min(1).max(256),
    path: z
      .enum(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
      .default("/v1/chat/completions"),
    /** The most units (prompt plus completion) the sealed request may use: its signed bound. */
    max_units: z.number().int().min(1).max(1_000_000).optional(),
    /** Nodes not to pick (one that failed this client's last session). */
    ignore: z
      .array(z.string().regex(/^(0|[1-9]\d{0,77})$/))
      .max(64)
      .default([]),
  })
  .strict();

const NONCE = /^0x[0-9a-fA-F]{64}$/;

function partsOf(parts: GatewayParts): ConfidentialParts {
  if (!parts.confidential) throw new ConfidentialUnsupportedError();
  return parts.confidential;
}

/**
 * `POST /v1/confidential/sessions {model, path?, max_units?, ignore?}`: picks a node on one of the model's
 * confidential tasks, holds a stack there, reserves its next nonce, a deadline, the key's rate allowance and the
 * budget of `max_units`; answers what the client seals to. The gateway sees the model and the bound, never the
 * request.
 */
export function sessionsRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const { sessions } = partsOf(parts);
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const parsed = sessionRequest.safeParse(await readJsonBody(c));
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join(".") || "body";
      throw new InvalidInputError(`invalid confidential session request: ${field}`);
    }
    const input = parsed.data;
    const listing = parts.upstream.model(input.model);
    if (!keyAllows(key, input.model) || !listing) throw new ModelNotFoundError();
    const maxUnits = BigInt(input.max_units ?? parts.bounds.defaultMaxTokens + 4_096);
    const session = await sessions.open(key, {
      model: input.model,
      endpoint: ENDPOINTS[input.path] ?? "chat",
      path: input.path,
      maxUnits,
      ignore: input.ignore.map(BigInt),
    });
    return c.json(
      {
        object: "atoma.confidential.session",
        id: session.id,
        model: session.model,
        path: session.path,
        node_id: String(session.lease.nodeId),
        node_signer: session.lease.nodeSigner,
        task_id: String(session.lease.taskId),
        stack_id: String(session.lease.stackId),
        nonce: String(session.lease.nonce),
        deadline: String(session.deadline),
        max_units: String(session.maxUnits),
        expires_at: Math.floor(session.expiresAtMs / 1000),
      },
      201,
    );
  };
}

/**
 * `GET /v1/confidential/sessions/{id}/attestation[?nonce=0x…]`: the session's node's evidence for the client's nonce
 * (without one, its epoch evidence, which costs the node no quote); the client verifies it against the chain itself.
 * A session asks at most `MAX_FRESH_QUOTES_PER_SESSION` nonces, a key `confidential.freshQuotesPerKeyPerMinute` (then
 * 429 `attestation_rate_limited` from the gateway).
 * Only an `atoma.attestation` is passed on as evidence: the node's 429 (its fresh quotes for the gateway's address
 * spent) becomes `attestation_rate_limited` with its `retry-after`, anything else `attestation_unavailable` (503).
 */
export function attestationRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const confidential = partsOf(parts);
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const session = confidential.sessions.peek(c.req.param("id") ?? "", key.keyId);
    const nonce = c.req.query("nonce");
    if (nonce !== undefined && !NONCE.test(nonce))
      throw new InvalidInputError("nonce must be 0x and 64 hex digits");
    // The node's fresh quotes for the gateway's address are every user's: a session gets a few, then the epoch
    // evidence (no nonce, no quote) serves it.
    if (nonce !== undefined && session.freshQuotes++ >= MAX_FRESH_QUOTES_PER_SESSION)
      throw new AttestationRateLimitedError(1);
    // And a key gets a few a minute, however many sessions it opens: the node's share for the gateway is everyone's.
    const wait = nonce === undefined ? 0 : (confidential.freshQuotes?.take(key.keyId) ?? 0);
    if (wait > 0) throw new AttestationRateLimitedError(wait);
    const answer = await confidential.upstream.attestationOf(session.lease, nonce);
    if (nonce === undefined && answer.status === 200)
      await confidential.statements?.keepServed(answer.body, session.lease);
    return c.json(evidenceOf(answer), 200);
  };
}

/** The node's answer when it is evidence; else the error the client is told (never the node's body as evidence). */
function evidenceOf(answer: AttestationAnswer): Record<string, unknown> {
  const body = answer.body;
  if (
    answer.status === 200 &&
    typeof body === "object" &&
    body !== null &&
    !Array.isArray(body) &&
    (body as Record<string, unknown>).object === "atoma.attestation" &&
    (body as Record<string, unknown>).evidence !== undefined
  )
    return body as Record<string, unknown>;
  if (answer.status === 429) {
    const seconds = Number(answer.retryAfter);
    // Bounded: a node cannot make the client wait an hour on its word.
    throw new AttestationRateLimitedError(Number.isFinite(seconds) ? Math.min(60, Math.max(1, seconds)) : 1);
  }
  const said = (body as { error?: { code?: unknown } } | null)?.error?.code;
  throw new AttestationUnavailableError(answer.status, typeof said === "string" ? said : undefined);
}

/**
 * A sealed request on its session: the body must be exactly an envelope (the gateway checks the shape; it cannot
 * open it); the session is the key's, open, for this path, and used once. The gateway signs the envelope at the
 * session's nonce and deadline, relays the node's sealed chunks unchanged, and passes its receipt through; the key
 * is charged what the receipt says. A node that fails before answering gets `confidential_session_failed`: the
 * client seals again for a new session.
 */
export async function sealedRequest(
  parts: GatewayParts,
  endpoint: Endpoint,
  c: Context,
  sessionId: string,
): Promise<Response> {
  const { sessions, upstream } = partsOf(parts);
  const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
  const envelope = await readJsonBody(c);
  try {
    readConfidentialEnvelope(envelope);
  } catch (error) {
    throw new ConfidentialEnvelopeInvalidError({ cause: error });
  }
  if (sessions.peek(sessionId, key.keyId).endpoint !== endpoint)
    throw new InvalidInputError("the session was opened for another path");
  const session = sessions.take(sessionId, key.keyId);
  const relay = new SealedRelay();
  const signal = c.req.raw.signal;
  const answer = upstream.sendSealed(session.lease, {
    endpoint,
    envelope,
    deadline: session.deadline,
    maxUnits: session.maxUnits,
    signal,
    onSealed: (event, position) => relay.pass(event, position),
  });
  const done = answer.then(
    async (served) => {
      await sessions.settle(session, served);
      if (parts.metrics) {
        parts.metrics.requests.inc({ endpoint, outcome: "ok" });
        parts.metrics.tokens.inc({ model: session.model }, Number(served.units));
      }
      if (relay.streaming) relay.finish(served);
      return served;
    },
    async (error: unknown) => {
      // Sealed chunks reached the client but no receipt came: the key keeps its reservation charged.
      await sessions.settle(session, undefined, relay.streaming, requestHash(envelope));
      if (relay.streaming) relay.fail(error, parts);
      throw error;
    },
  );
  const first = await Promise.race([relay.started, done]);
  if (first instanceof Response) {
    done.catch(() => undefined);
    return first;
  }
  return c.json(
    { ...first.response, atoma: first.atoma, ...signedRequestOf(first) },
    200,
    servedHeaders(first),
  );
}

function servedHeaders(answer: UpstreamAnswer): Record<string, string> {
  return { "x-atoma-node": String(answer.nodeId), "x-atoma-fallback": "false" };
}

/**
 * Relays a sealed stream to the client as its chunks come (each once), then the receipt in clear. A resend of the
 * signed request replays the answer from its start: when its chunk 0 is byte-identical to the one relayed (the
 * node answered from its records) the chunks already relayed are skipped and the rest stitched on; when it is not,
 * the node opened the request again and generated a new answer under a new salt, so the relay sends a
 * `atoma.confidential.restart` event and relays the new answer from its start (the client drops what it showed and
 * reads on with `reader.retry()`). The first answer never gets a receipt: the key is charged the new one's, once.
 */
class SealedRelay {
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #relayed = 0;
  /** Chunk 0 as relayed: a resend whose chunk 0 differs is another answer. */
  #head: unknown;
  #start!: (response: Response) => void;
  readonly started = new Promise<Response>((resolve) => {
    this.#start = resolve;
  });

  get streaming(): boolean {
    return this.#controller !== undefined;
  }

  pass(event: Record<string, unknown>, position: number): void {
    if (position === 0 && this.#relayed > 0 && event.sealed !== this.#head) {
      this.#write({ object: SEALED_RESTART_OBJECT });
      this.#relayed = 0;
    }
    // A resend of the same answer: what was relayed is not relayed again.
    if (position < this.#relayed) return;
    if (position === 0) this.#head = event.sealed;
    this.#relayed = position + 1;
    if (!this.#controller) {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          this.#controller = controller;
        },
      });
      this.#start(new Response(body, { status: 200, headers: { ...SSE_HEADERS } }));
    }
    this.#write(event);
  }

  finish(answer: UpstreamAnswer): void {
    const chunks = Array.isArray(answer.response.chunks) ? answer.response.chunks : [];
    // A resend answered as one JSON answer: its chunks not relayed yet (all of them if it is another answer), then
    // the receipt.
    for (const [position, sealed] of chunks.entries())
      this.pass({ object: "atoma.confidential.chunk", sealed }, position);
    this.#write({
      object: SEALED_ANSWER_OBJECT,
      usage: answer.response.usage,
      atoma: answer.atoma,
      ...signedRequestOf(answer),
    });
    this.#write("[DONE]");
    this.#close();
  }

  fail(error: unknown, parts: GatewayParts): void {
    const response = errorResponseOf(error);
    if (!response.expected) parts.logger.error({ err: error }, "a sealed stream failed");
    this.#write(response.body);
    this.#close();
  }

  #write(data: unknown): void {
    try {
      this.#controller?.enqueue(sseEvent(data));
    } catch {
      // the client is gone
    }
  }

  #close(): void {
    try {
      this.#controller?.close();
    } catch {
      // the client is gone
    }
  }
}

/** Refuses a request in clear for a model only confidential tasks serve. */
export function refuseClearToConfidential(confidentialOnly: boolean | undefined): void {
  if (confidentialOnly) throw new ConfidentialRequiredError();
}
