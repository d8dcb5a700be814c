import { isConfidentialBody } from "@atoma/confidential";
import { costOfUnits, InvalidInputError } from "@atoma/core";
import type { Context } from "hono";
import { formatEther } from "viem";
import { ConfidentialSessionRequiredError } from "../confidentialErrors.js";
import { ModelNotFoundError } from "../errors.js";
import { authenticate, keyAllows } from "../keys/authenticate.js";
import { modelName } from "../keys/keyTerms.js";
import { fitBound } from "../limits/fitBound.js";
import type { Endpoint } from "../limits/requestBound.js";
import { codeLabel } from "../metrics/codeLabel.js";
import { parseProviderPreferences } from "../routing/providerPreferences.js";
import {
  CONFIDENTIAL_SESSION_HEADER,
  refuseClearToConfidential,
  sealedRequest,
} from "./confidentialRoutes.js";
import { type CutStreamCharge, cutStreamCharge } from "./cutStreamCharge.js";
import { errorResponseOf } from "./errorResponse.js";
import type { GatewayParts } from "./gatewayParts.js";
import { readJsonBody } from "./readJsonBody.js";
import { finalChunk, SSE_HEADERS, signedRequestOf, sseEvent } from "./sse.js";
import type { SignedLeaf, UpstreamAnswer, UpstreamRequest } from "./upstream.js";

/**
 * Settles the key's reservation once: at the receipt's cost, else nothing, or (`keepReservation`) all of it — for
 * a signed request whose answer reached the client with no receipt: the node can still settle that leaf, up to
 * the signed `maxUnits` the reservation was priced at, so the key does not get the answer free.
 */
type Settle = (
  answer: UpstreamAnswer | undefined,
  keepReservation?: boolean,
  hold?: CutStreamCharge["hold"],
  /** What a kept reservation is charged, when less than all of it. */
  keptWei?: bigint,
) => Promise<void>;

/** The model a body names; `ModelNotFoundError` for text no model could be called (never echoed back). */
function modelOf(body: Record<string, unknown>): string {
  if (typeof body.model !== "string") throw new InvalidInputError("model must be a string");
  if (!modelName.safeParse(body.model).success) throw new ModelNotFoundError();
  return body.model;
}

/**
 * `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: the key, the model, the request's bound,
 * the key's rate limits, then its budget reserved at the bound's highest cost; the request goes to a node, and
 * the key is charged what the verified receipt says (every path settles exactly once).
 */
export function inferenceRoute(parts: GatewayParts, endpoint: Endpoint) {
  const serve = servingRoute(parts, endpoint);
  return async (c: Context): Promise<Response> => {
    try {
      return await serve(c);
    } catch (error) {
      parts.metrics?.requests.inc({ endpoint, outcome: codeLabel(errorResponseOf(error).body.error.code) });
      throw error;
    }
  };
}

function servingRoute(parts: GatewayParts, endpoint: Endpoint) {
  return async (c: Context): Promise<Response> => {
    const receivedAt = performance.now();
    const sessionId = c.req.header(CONFIDENTIAL_SESSION_HEADER);
    if (sessionId !== undefined) return sealedRequest(parts, endpoint, c, sessionId);
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const { provider: providerField, ...body } = await readJsonBody(c);
    // A sealed body is signed only at the stack, nonce and deadline it was sealed to: its session's.
    if (isConfidentialBody(body)) throw new ConfidentialSessionRequiredError();
    const model = modelOf(body);
    const listing = parts.upstream.model(model);
    if (!keyAllows(key, model) || !listing) throw new ModelNotFoundError();
    // Never a prompt in clear to a level-3 stack: a model only confidential tasks serve takes sealed requests only.
    refuseClearToConfidential(listing.confidentialOnly);
    // The gateway's own field: validated here, and never sent to the node (it is not part of what it signs).
    const provider = parseProviderPreferences(providerField);
    const bound = fitBound(endpoint, body, parts.bounds, key.tokensPerMinute);
    const ticket = await parts.limiter.take(key, bound.maxTokens);
    const maxWei = costOfUnits(BigInt(bound.maxTokens), parts.upstream.maxPricePerMillion());
    let reservation: Awaited<ReturnType<typeof parts.ledger.reserve>>;
    try {
      reservation = await parts.ledger.reserve(key.keyId, maxWei);
    } catch (error) {
      ticket.refund(bound.maxTokens);
      throw error;
    }
    let settled = false;
    const settle: Settle = async (answer, keepReservation = false, hold = undefined, keptWei = maxWei) => {
      if (settled) return;
      settled = true;
      if (!keepReservation) ticket.refund(bound.maxTokens - Number(answer?.units ?? 0n));
      // biome-ignore lint/complexity/useMathMinMax: bigints
      const kept = keptWei < maxWei ? keptWei : maxWei;
      const cost = answer ? costOfUnits(answer.units, answer.pricePerMillion) : keepReservation ? kept : 0n;
      try {
        // With a journal, a synchronous append: the charge is recorded before the client sees the answer.
        // A charge kept with no receipt shows in the usage too (its units are not known yet).
        const served =
          parts.usage && (answer || keepReservation) ? { model, units: answer?.units ?? 0n } : undefined;
        await parts.ledger.settle(reservation, cost, served, hold);
      } catch (error) {
        parts.logger.error({ keyId: key.keyId, err: error }, "settling a request's spend failed");
      }
      if (answer && parts.metrics) {
        const { metrics } = parts;
        metrics.requests.inc({ endpoint, outcome: "ok" });
        metrics.requestDuration.observe({ endpoint }, (performance.now() - receivedAt) / 1000);
        metrics.tokens.inc({ model }, Number(answer.units));
        metrics.spend.inc({ model }, Number(formatEther(cost)));
        if (answer.fallback) metrics.fallbacks.inc();
      }
      parts.logger.debug(
        {
          keyId: key.keyId,
          endpoint,
          nodeId: answer && String(answer.nodeId),
          units: String(answer?.units ?? 0n),
        },
        answer ? "request served" : "request failed",
      );
    };
    const request: UpstreamRequest = {
      endpoint,
      model,
      body: bound.body,
      stream: endpoint !== "embeddings" && body.stream === true,
      maxUnits: BigInt(bound.maxTokens),
      signal: c.req.raw.signal,
      provider,
      keyId: key.keyId,
    };
    if (request.stream) return streamed(parts, request, settle, receivedAt);
    let answer: UpstreamAnswer;
    try {
      answer = await parts.upstream.send(request);
    } catch (error) {
      await settle(undefined);
      throw error;
    }
    await settle(answer);
    return c.json(
      { ...answer.response, atoma: answer.atoma, ...signedRequestOf(answer) },
      200,
      servedHeaders(answer.nodeId, answer.fallback),
    );
  };
}

/**
 * Streams the node's chunks as they come. The response starts with the first chunk (so a refusal before it
 * still gets its status, and `x-atoma-node` names the node that answers); after the last chunk comes the usage
 * with the node's `atoma` object, then `[DONE]`. A failure after the first chunk ends the stream with an
 * OpenAI-shaped error event. A client that goes away while the answer is generated stops the request at the node
 * (which then records nothing); one that goes away once a chunk with a `finish_reason` was relayed (the whole
 * answer, which the node commits and bills before it sends the receipt) does not: the gateway still reads the
 * node's receipt and charges the key what it says.
 */
async function streamed(
  parts: GatewayParts,
  request: UpstreamRequest,
  settle: Settle,
  receivedAt: number,
): Promise<Response> {
  const cancelled = new AbortController();
  const signal = cancelled.signal;
  let answered = false;
  const clientGone = () => {
    if (!answered) cancelled.abort();
  };
  if (request.signal.aborted) cancelled.abort();
  else request.signal.addEventListener("abort", clientGone, { once: true });
  let queue!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      queue = controller;
    },
    cancel: clientGone,
  });
  const write = (data: unknown) => {
    try {
      queue.enqueue(sseEvent(data));
    } catch {
      // the client is gone
    }
  };
  const end = () => {
    try {
      queue.close();
    } catch {
      // the client is gone
    }
  };
  let servedBy: bigint | undefined;
  /** Answer chunks relayed to the client (`cutStreamCharge`'s bound on a stream it stopped). */
  let relayedChunks = 0;
  let start!: (headers: Record<string, string>) => void;
  let refuse!: (error: unknown) => void;
  const started = new Promise<Record<string, string>>((resolve, reject) => {
    start = resolve;
    refuse = reject;
  });
  // Without `stream_options.include_usage` OpenAI sends no chunk without choices (review of issue 12, LOW-3): the
  // last chunk that finishes a choice waits for the receipt and carries the usage and `atoma` itself (not for an
  // Atoma client, which reads the receipt from its own event).
  const separateUsage = separateReceipt(request.body);
  let held: Record<string, unknown> | undefined;
  const flushHeld = () => {
    if (held) write(held);
    held = undefined;
  };
  const onChunk = (chunk: Record<string, unknown>, nodeId: bigint, fallback?: boolean) => {
    if (servedBy === undefined) {
      servedBy = nodeId;
      parts.metrics?.timeToFirstChunk.observe((performance.now() - receivedAt) / 1000);
      start(servedHeaders(nodeId, fallback));
    }
    flushHeld();
    relayedChunks++;
    if (hasFinishReason(chunk)) {
      answered = true;
      if (!separateUsage) {
        held = chunk;
        return;
      }
    }
    write(chunk);
  };
  let leaf: SignedLeaf | undefined;
  const onSigned = (signed: SignedLeaf) => {
    leaf = signed;
  };
  void parts.upstream.send({ ...request, signal, onChunk, onSigned }).then(
    async (answer) => {
      request.signal.removeEventListener("abort", clientGone);
      // Charged before the receipt reaches the client (a crash in between charges what the client never got).
      await settle(answer);
      start(servedHeaders(answer.nodeId, answer.fallback));
      const last = finalChunk(answer);
      if (held) {
        const { choices: _, ...receipt } = last;
        write({
          ...held,
          ...receipt,
          id: held.id,
          object: held.object,
          created: held.created,
          model: held.model,
        });
        held = undefined;
      } else write(last);
      write("[DONE]");
      end();
    },
    async (error: unknown) => {
      request.signal.removeEventListener("abort", clientGone);
      // Answer text reached the client but no receipt came: the key is charged its reservation, held for the leaf's
      // receipt (the key then pays what it says); nothing when the receipt failed verification.
      // Stopped by its client or cut before its last chunk: the key pays at most what it was sent (a node cutting on
      // purpose bills its leaf up to the bound, review of h-gw, HIGH-4); with the whole answer sent, what the leaf says.
      const delivered = answered ? undefined : relayedChunks;
      const charge = cutStreamCharge(error, servedBy !== undefined, leaf, delivered);
      await settle(undefined, charge.keep, charge.hold, charge.costWei);
      if (servedBy === undefined) return refuse(error);
      flushHeld();
      if (!signal.aborted) {
        const response = errorResponseOf(error);
        parts.metrics?.requests.inc({
          endpoint: request.endpoint,
          outcome: codeLabel(response.body.error.code),
        });
        if (!response.expected) parts.logger.error({ err: error }, "a stream failed");
        write(response.body);
      }
      end();
    },
  );
  const headers = await started;
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
}

/**
 * Whether the receipt goes in a chunk of its own: the client asked for the usage there (`stream_options.include_usage`),
 * or it is an Atoma client (its `atoma_nonce`), which reads the receipt from an event with no answer text.
 */
function separateReceipt(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  const asked =
    typeof options === "object" &&
    options !== null &&
    (options as { include_usage?: unknown }).include_usage === true;
  return asked || body.atoma_nonce !== undefined;
}

/** Whether a relayed chunk ends its choice: the node has the whole answer, and bills it. */
function hasFinishReason(chunk: Record<string, unknown>): boolean {
  const { choices } = chunk;
  return (
    Array.isArray(choices) &&
    choices.some((choice) => typeof choice === "object" && choice !== null && choice.finish_reason != null)
  );
}

/** Who served, and whether another node was tried first. */
function servedHeaders(nodeId: bigint, fallback: boolean | undefined): Record<string, string> {
  return { "x-atoma-node": String(nodeId), "x-atoma-fallback": fallback ? "true" : "false" };
}
