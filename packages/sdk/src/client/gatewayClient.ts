import type { AtomaReceipt } from "@atoma/core";
import type { Address } from "viem";
import { StreamAssembler } from "../assembleStream.js";
import { AnswerUnverifiedError, GatewayRequestError, ResponseVerificationError } from "../errors.js";
import { readJsonCapped } from "../readBodyCapped.js";
import { readSse } from "../readSse.js";
import { DEFAULT_MAX_ANSWER_BYTES } from "../StackClient.js";
import { servingSecurityLevel } from "../verify/servingLevel.js";
import { type Verdict, verdictOf } from "../verify/verdict.js";
import type { VerifyChain } from "../verify/verifyArguments.js";
import { verifyResponse } from "../verify/verifyResponse.js";
import type { AtomaAnswer, AtomaClient, GatewayClientOptions } from "./atomaClient.js";
import { checkBody, type Endpoint, endpointPath } from "./clientArguments.js";
import { checkGatewayOptions } from "./gatewayArguments.js";
import { gatewayBuyer } from "./gatewayBuyer.js";
import { gatewaySealedClient } from "./gatewaySealedClient.js";
import { verifyChainOfInput } from "./networkInput.js";
import { withRequestNonce, withTokenLimit } from "./requestMarks.js";

type Body = Record<string, unknown>;

const MAX_ERROR_BYTES = 64 * 1024;
/** How long the default security level read for a model holds before it is read again. */
const LEVEL_TTL_MS = 60_000;

const isRecord = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Through a gateway: it holds the stacks and signs for the user; each answer's receipt is checked on-chain, and
 * bound to this gateway: its stack must be the gateway wallet's (`gatewayAddress`, else `GET /v1/gateway`), on a
 * task of the model asked (at `securityLevel` at least, by default the highest level a node serves the model at,
 * read again every `LEVEL_TTL_MS`), for the request sent (a random `atoma_nonce` makes each one unique), and not a
 * receipt seen before. Without `chain` (`verify: false`) the gateway is trusted.
 */
export function gatewayClient(options: GatewayClientOptions): AtomaClient {
  // Sealed for the node the gateway picks, never in clear.
  if (options.confidential !== undefined && options.confidential !== false)
    return gatewaySealedClient(options);
  const binding = checkGatewayOptions(options);
  const base = options.gateway.url.replace(/\/+$/, "");
  const fetcher = options.fetch ?? globalThis.fetch;
  let chain: Promise<{ verifier: VerifyChain; owner: Address }> | undefined;
  const chainOnce = () => {
    const given = options.chain;
    if (given === undefined) return undefined;
    chain ??= Promise.all([
      verifyChainOfInput(given),
      binding.gatewayAddress ?? gatewayBuyer(fetcher, base),
    ]).then(([verifier, owner]) => ({ verifier, owner }));
    // A failed read is not kept: the next call asks again.
    chain.catch(() => {
      chain = undefined;
    });
    return chain;
  };
  /** Receipts already seen signed by their node (stack and leaf): a second answer under one is a replay. */
  const seen = new Set<string>();
  /** Per model, the lowest security level an answer may have when none was given (`servingSecurityLevel`). */
  const levels = new Map<string, { level: Promise<number>; readAt: number }>();
  const levelFor = (verifier: VerifyChain, model: unknown): Promise<number | undefined> => {
    if (binding.securityLevel !== undefined || typeof model !== "string")
      return Promise.resolve(binding.securityLevel);
    const held = levels.get(model);
    if (held && Date.now() - held.readAt < LEVEL_TTL_MS) return held.level;
    const asked = servingSecurityLevel(verifier, model);
    levels.set(model, { level: asked, readAt: Date.now() });
    // A failed read is not kept: the next call asks again.
    asked.catch(() => {
      if (levels.get(model)?.level === asked) levels.delete(model);
    });
    return asked;
  };

  async function call(endpoint: Endpoint, given: Body, stream: boolean, onChunk?: (c: Body) => void) {
    // A random `atoma_nonce` makes each request one of a kind: a gateway cannot pass one user's answer (signed for
    // that request) to another asking the same, nor an earlier call's to this one, whatever `user` says.
    const unique = withRequestNonce(withTokenLimit(endpoint, given));
    const body = stream ? { ...unique, stream: true } : unique;
    const bound = await chainOnce();
    const securityLevel = bound === undefined ? undefined : await levelFor(bound.verifier, body.model);
    const answer = await fetcher(`${base}${endpointPath(endpoint)}`, {
      method: "POST",
      redirect: "error",
      headers: { authorization: `Bearer ${options.gateway.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!answer.ok) throw await gatewayError(answer);
    const received = stream ? await readStream(answer, onChunk) : await readJson(answer);
    if (received.atoma === undefined && bound === undefined)
      throw new ResponseVerificationError("the gateway passed no node receipt (atoma) with the answer");
    const verifyOptions = bound && {
      chain: bound.verifier,
      request: body,
      owner: bound.owner,
      securityLevel,
      fetch: fetcher,
    };
    const verdict = verifyOptions && replayChecked(await verifyResponse(received, verifyOptions));
    if (verdict !== undefined && !verdict.ok) throw new AnswerUnverifiedError(verdict);
    const { atoma_request, ...response } = received;
    // Read again, the replay check stays what it was when the answer came: the receipt was first seen then.
    const replay = verdict?.checks.find((c) => c.name === "replay");
    const recheck =
      verifyOptions &&
      (async () => {
        const again = await verifyResponse(received, verifyOptions);
        return verdictOf(
          [...again.checks, ...(replay ? [replay] : [])],
          again.settlement,
          again.receipt,
          again.nodeSlashed,
          again.proof,
          again.asked,
        );
      });
    return {
      response,
      atoma: received.atoma as AtomaReceipt,
      verdict,
      request: isRecord(atoma_request) ? atoma_request : body,
      recheck,
    } satisfies AtomaAnswer;
  }

  /**
   * Adds the `replay` check: no answer this client saw before carried the receipt (stack, leaf). Every receipt its
   * node's registered signer signed is kept, refused answers too: a receipt shown once cannot serve again.
   */
  function replayChecked(verdict: Verdict): Verdict {
    if (verdict.receipt === undefined) return verdict;
    const key = `${verdict.receipt.stack_id}:${verdict.receipt.leaf_index}`;
    const replayed = seen.has(key);
    if (verdict.checks.some((c) => c.name === "signer" && c.status === "pass")) seen.add(key);
    const check = replayed
      ? ({
          name: "replay",
          status: "fail",
          code: "receipt_replayed",
          reason: `leaf ${verdict.receipt.leaf_index} of stack ${verdict.receipt.stack_id} was already an answer`,
        } as const)
      : ({ name: "replay", status: "pass", reason: "no earlier answer carried this receipt" } as const);
    return verdictOf(
      [...verdict.checks, check],
      verdict.settlement,
      verdict.receipt,
      verdict.nodeSlashed,
      verdict.proof,
      verdict.asked,
    );
  }

  async function readJson(answer: Response): Promise<Body> {
    const body = await readJsonCapped(answer, DEFAULT_MAX_ANSWER_BYTES);
    if (!isRecord(body)) throw new ResponseVerificationError("the gateway's answer is not a JSON object");
    return body;
  }

  async function readStream(answer: Response, onChunk?: (c: Body) => void): Promise<Body> {
    if (!answer.body) throw new ResponseVerificationError("the gateway sent no stream");
    const assembler = new StreamAssembler();
    let atoma: unknown;
    let atomaRequest: unknown;
    for await (const event of readSse(answer.body, options.streamLimits)) {
      if (!isRecord(event)) throw new ResponseVerificationError("a stream event is not a JSON object");
      if (isRecord(event.error)) throw errorOf(200, event.error);
      const { atoma: receipt, atoma_request, ...chunk } = event;
      const relayed = assembler.add(chunk);
      if (receipt === undefined) onChunk?.(relayed);
      else if (Array.isArray(relayed.choices) && relayed.choices.length > 0)
        // Its text would be verified but never shown: what the user reads must be what is verified.
        throw new ResponseVerificationError("the receipt event carries answer text that is never relayed");
      else {
        atoma = receipt;
        atomaRequest = atoma_request;
      }
    }
    return {
      ...assembler.response(),
      ...(atoma !== undefined && { atoma }),
      ...(atomaRequest !== undefined && { atoma_request: atomaRequest }),
    };
  }

  const run = (endpoint: Endpoint, body: unknown, stream: boolean, onChunk?: (c: Body) => void) => {
    try {
      return call(endpoint, checkBody(endpoint, body), stream, onChunk);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    chat: (body) => run("chat", body, false),
    chatStream: (body, onChunk) => run("chat", body, true, onChunk),
    completions: (body) => run("completions", body, false),
    embeddings: (body) => run("embeddings", body, false),
  };
}

function errorOf(status: number, error: Body): GatewayRequestError {
  const code = typeof error.code === "string" ? error.code : `http_${status}`;
  const message = typeof error.message === "string" ? error.message.slice(0, 500) : "no message";
  return new GatewayRequestError(status, code, message);
}

async function gatewayError(answer: Response): Promise<GatewayRequestError> {
  try {
    const body = await readJsonCapped(answer, MAX_ERROR_BYTES);
    if (isRecord(body) && isRecord(body.error)) return errorOf(answer.status, body.error);
  } catch {
    // not JSON: the status line says it
  }
  return new GatewayRequestError(answer.status, `http_${answer.status}`, answer.statusText);
}
