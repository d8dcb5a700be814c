import {
  type AttestationVerdict,
  type Freshness,
  SEALED_CHUNK_OBJECT,
  SEALED_END_OBJECT,
  type SealedAnswer,
  sealConfidentialRequest,
} from "@atoma/confidential";
import {
  type AtomaReceipt,
  atomaDomain,
  canonicalJson,
  computeUnits,
  requestHash,
  SEALED_RESTART_OBJECT,
} from "@atoma/core";
import type { Address } from "viem";
import { SealedAnswerError } from "../confidential/attestationVerdict.js";
import {
  GatewayRequestError,
  ResponseVerificationError,
  UnitsMismatchError,
  UsageMismatchError,
} from "../errors.js";
import type { Network } from "../network.js";
import { readContext } from "../network.js";
import { readJsonCapped } from "../readBodyCapped.js";
import { readSse } from "../readSse.js";
import { DEFAULT_MAX_ANSWER_BYTES } from "../StackClient.js";
import { verifyReceipt } from "../verifyReceipt.js";
import {
  type AttestedSession,
  attestGatewaySession,
  gatewayError,
  type SessionPolicy,
} from "./gatewaySessionAttestation.js";

type Body = Record<string, unknown>;

export type { SessionPolicy } from "./gatewaySessionAttestation.js";

/** The gateway's codes after which a new session, at another node, may serve the request sealed again. */
const NEW_SESSION_CODES = new Set([
  "confidential_session_failed",
  "node_failed",
  "node_unreachable",
  "response_unverified",
  "attestation_unavailable",
]);
/** Restarts of one relayed stream (a resend that brought a new answer) the client follows; past it, it fails. */
const MAX_RESTARTS = 3;
const MAX_SMALL_BYTES = 1024 * 1024;
const PATHS = { chat: "/v1/chat/completions", completions: "/v1/completions" } as const;

export interface GatewayConfidentialOptions {
  gateway: { url: string; apiKey: string };
  /**
   * The evidence this client accepts (approved measurements; `dev` only on a local network). `measurements: "chain"`
   * takes the chain's allow-list for the session's task, as direct mode does; a list given here must match as well.
   */
  policy: SessionPolicy;
  /**
   * The network, read directly (never through the gateway): the session's node must be the one its signer is
   * registered for, its on-chain attestation record unexpired and for the key the evidence binds; the receipt is
   * checked against the StackManager's domain.
   */
  network: Network;
  /** Sessions tried for one request: a node that fails gets the request sealed again for another. @default 3 */
  attempts?: number | undefined;
  /**
   * How long, in all, the node's 429 `attestation_rate_limited` (its fresh quotes for the gateway's address spent) is
   * waited out per its `retry-after` before its epoch evidence is taken instead. @default 2000
   */
  attestationWaitMs?: number | undefined;
  /**
   * Take the node's epoch evidence (exactly the one it posted on the chain for the current epoch) when its fresh
   * quotes stay rate-limited past `attestationWaitMs`, as a direct client does. `false`: such a request fails with
   * `attestation_rate_limited` (a user spending the gateway's share of the node's quotes then keeps this client from
   * being served). @default true
   */
  epochEvidence?: boolean | undefined;
  /** The signed unit bound asked for each request (prompt plus completion). @default the gateway's */
  maxUnits?: number | undefined;
  fetch?: typeof fetch | undefined;
}

/** A confidential answer, opened and checked. */
export interface ConfidentialAnswer {
  /** The OpenAI response (for a stream: the chunks' text added up in `content`, and each chunk in `chunks`). */
  response: Body;
  /** The node's receipt, checked: its signer, the envelope's hash, the sealed answer's hash. */
  atoma: AtomaReceipt;
  nodeId: bigint;
  /** The level-3 task the answer's stack is on, as the chain has it (checked: its model, its allow-list). */
  taskId: bigint;
  attestation: AttestationVerdict;
  /** What proved the evidence current: the client's nonce, or (the node's fresh quotes spent) the chain's epoch. */
  freshness: Freshness;
  /** What the receipt's response hash covers (ciphertext), kept for a later challenge. */
  sealed: SealedAnswer;
  /** The sealed envelope as sent: what the receipt's request hash covers. */
  request: Body;
  /** Nodes that failed before this one answered (each got the request sealed for it alone). */
  failedNodes: bigint[];
}

interface Session {
  id: string;
  model: string;
  node_id: string;
  node_signer: Address;
  task_id: string;
  stack_id: string;
  nonce: string;
  deadline: string;
  path: string;
  expires_at?: number;
}

/**
 * Confidential requests through a gateway that cannot read them: for each request the client opens a session (the
 * gateway picks a level-3 node and reserves a stack, nonce and deadline), verifies that node's evidence for a fresh
 * nonce and its record on the chain itself, seals the request to the attested key for exactly that stack, nonce,
 * deadline and path, and opens the sealed answer (a stream chunk by chunk). A node that fails gets the request
 * sealed again, for a new session at another node.
 */
export function gatewayConfidentialClient(options: GatewayConfidentialOptions) {
  const base = options.gateway.url.replace(/\/+$/, "");
  const fetcher = options.fetch ?? globalThis.fetch;
  const chain = readContext(options.network);
  const domain = atomaDomain(options.network.chainId, options.network.contracts.StackManager);
  const auth = { authorization: `Bearer ${options.gateway.apiKey}` };

  async function gatewayJson(path: string, init: RequestInit): Promise<Body> {
    const answer = await fetcher(`${base}${path}`, { ...init, redirect: "error" });
    const body = await readJsonCapped(answer, MAX_SMALL_BYTES).catch(() => undefined);
    if (!answer.ok) throw gatewayError(answer.status, body);
    if (!isRecord(body)) throw new ResponseVerificationError("the gateway's answer is not a JSON object");
    return body;
  }

  /** The session's task and node, checked against the chain and its evidence (see `attestGatewaySession`). */
  const attest = (session: AttestedSession, model: string) =>
    attestGatewaySession(
      {
        get: (path) => fetcher(`${base}${path}`, { headers: auth, redirect: "error" }),
        policy: options.policy,
        chain,
        maxWaitMs: options.attestationWaitMs,
        epochEvidence: options.epochEvidence,
      },
      session,
      model,
    );

  async function once(
    endpoint: keyof typeof PATHS,
    body: Body,
    ignore: bigint[],
    onChunk: ((chunk: Body) => void) | undefined,
    onRestart: (() => void) | undefined,
    picked: { nodeId?: bigint },
  ): Promise<Omit<ConfidentialAnswer, "failedNodes">> {
    const path = PATHS[endpoint];
    const session = (await gatewayJson("/v1/confidential/sessions", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        model: body.model,
        path,
        ignore: ignore.map(String),
        ...(options.maxUnits !== undefined && { max_units: options.maxUnits }),
      }),
    })) as unknown as Session;
    picked.nodeId = BigInt(session.node_id);
    if (session.path !== path)
      throw new ResponseVerificationError("the gateway opened a session for another path");
    if (session.model !== body.model)
      throw new ResponseVerificationError("the gateway opened a session for another model");
    const { verdict: attestation, freshness, taskId } = await attest(session, String(body.model));
    const context = {
      stackId: BigInt(session.stack_id),
      nonce: BigInt(session.nonce),
      deadline: BigInt(session.deadline),
      path,
    };
    const sealedRequest = await sealConfidentialRequest(
      attestation.binding.encryptionPublicKey,
      body,
      context,
    );
    const envelope = sealedRequest.body;
    let reader = sealedRequest.reader;
    const answer = await fetcher(`${base}${path}`, {
      method: "POST",
      redirect: "error",
      headers: { ...auth, "content-type": "application/json", "x-atoma-confidential-session": session.id },
      body: JSON.stringify(envelope),
    });
    if (!answer.ok)
      throw gatewayError(answer.status, await readJsonCapped(answer, MAX_SMALL_BYTES).catch(() => undefined));
    let response: Body;
    let sealed: SealedAnswer;
    let atoma: unknown;
    let usageMismatch = false;
    if (answer.headers.get("content-type")?.includes("text/event-stream")) {
      if (!answer.body) throw new ResponseVerificationError("the gateway sent no stream");
      const chunks: Body[] = [];
      let usage: SealedAnswer["usage"] | undefined;
      /** The usage sealed with the answer in the TD: the one in clear (charged) must be it. */
      let sealedUsage: unknown;
      let restarts = 0;
      for await (const event of readSse(answer.body)) {
        if (!isRecord(event)) throw new ResponseVerificationError("a stream event is not a JSON object");
        if (isRecord(event.error)) throw gatewayError(200, event);
        if (event.object === SEALED_RESTART_OBJECT) {
          // A resend brought a new answer (another salt): what was shown is dropped, the new one read from its start.
          if (++restarts > MAX_RESTARTS)
            throw new ResponseVerificationError("the gateway restarted the sealed stream too often");
          // With chunks shown and no way to tell the caller, the new answer would be spliced onto them: refused.
          if (chunks.length > 0 && !onRestart)
            throw new SealedAnswerError(
              "answer_restarted",
              "the gateway restarted the sealed stream after chunks were shown: refused rather than spliced",
            );
          reader = reader.retry();
          chunks.length = 0;
          onRestart?.();
          continue;
        }
        if (event.object === SEALED_CHUNK_OBJECT && typeof event.sealed === "string") {
          const opened = reader.openChunk(event.sealed);
          if (!isRecord(opened)) throw new ResponseVerificationError("a sealed chunk is not a JSON object");
          if (opened.object === SEALED_END_OBJECT) {
            sealedUsage = opened.usage;
            continue;
          }
          chunks.push(opened);
          onChunk?.(opened);
        } else if (event.atoma !== undefined) {
          atoma = event.atoma;
          usage = event.usage as SealedAnswer["usage"];
        }
      }
      if (usage === undefined) throw new ResponseVerificationError("the stream ended without its receipt");
      sealed = reader.finish(usage);
      usageMismatch = !sameUsage(usage, sealedUsage);
      response = { object: "chat.completion.chunks", chunks, content: contentOf(chunks), usage };
    } else {
      const json = await readJsonCapped(answer, DEFAULT_MAX_ANSWER_BYTES);
      if (!isRecord(json)) throw new ResponseVerificationError("the gateway's answer is not a JSON object");
      const opened = reader.openAnswer(json);
      if (!isRecord(opened.response))
        throw new ResponseVerificationError("the sealed answer is not a JSON object");
      response = opened.response;
      sealed = opened.sealed;
      atoma = json.atoma;
      usageMismatch = !sameUsage(json.usage, opened.response.usage);
    }
    const { receipt, fields } = await verifyReceipt(sealed, atoma, {
      domain,
      nodeSigner: session.node_signer,
      stackId: context.stackId,
      reqHash: requestHash(envelope as unknown as Body),
      nodeId: BigInt(session.node_id),
    });
    // Level 3 is never sampled: the client alone can see the receipt charge another usage than the TD sealed.
    const signed = { fields, signature: receipt.signature };
    if (usageMismatch) throw new UsageMismatchError(signed);
    const usageUnits = computeUnits(sealed.usage);
    if (fields.units !== usageUnits) throw new UnitsMismatchError(signed, usageUnits);
    return {
      response,
      atoma: receipt,
      nodeId: BigInt(session.node_id),
      taskId,
      attestation,
      freshness,
      sealed,
      request: envelope as unknown as Body,
    };
  }

  async function run(
    endpoint: keyof typeof PATHS,
    body: Body,
    onChunk?: (chunk: Body) => void,
    onRestart?: () => void,
  ) {
    const attempts = options.attempts ?? 3;
    const failedNodes: bigint[] = [];
    let shown = false;
    const show = onChunk
      ? (chunk: Body) => {
          shown = true;
          onChunk(chunk);
        }
      : undefined;
    for (let attempt = 1; ; attempt++) {
      const picked: { nodeId?: bigint } = {};
      try {
        return { ...(await once(endpoint, body, failedNodes, show, onRestart, picked)), failedNodes };
      } catch (error) {
        const retry = error instanceof GatewayRequestError && NEW_SESSION_CODES.has(error.gatewayCode);
        if (!retry || attempt >= attempts || picked.nodeId === undefined) throw error;
        // Another node's answer never follows the chunks shown of this one: the caller drops them first, or (with no
        // way to tell it) the request fails here rather than show two answers spliced as one.
        if (shown) {
          if (!onRestart) throw error;
          onRestart();
          shown = false;
        }
        // The envelope opened only for that node: the next session is at another, and the request sealed again.
        failedNodes.push(picked.nodeId);
      }
    }
  }

  return {
    /**
     * A sealed chat; with `onChunk`, streamed (each opened chunk as it comes). `onRestart`: the chunks shown so far
     * are void (a resend, or a failover to another node, brought a new answer, relayed from its start); the answer
     * returned holds only the new one. Without `onRestart`, a failover after chunks were shown throws instead.
     */
    chat: (
      body: Body,
      onChunk?: (chunk: Body) => void,
      onRestart?: () => void,
    ): Promise<ConfidentialAnswer> =>
      run("chat", onChunk ? { ...body, stream: true } : body, onChunk, onRestart),
    completions: (body: Body): Promise<ConfidentialAnswer> => run("completions", body),
    /** A session's task and node checked as `chat` does it, for `model` (for callers that seal themselves). */
    attest,
  };
}

const isRecord = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function contentOf(chunks: Body[]): string {
  return chunks
    .map((chunk) => {
      const choice = (chunk.choices as { delta?: { content?: string }; text?: string }[] | undefined)?.[0];
      return choice?.delta?.content ?? choice?.text ?? "";
    })
    .join("");
}

/** The usage in clear (what the receipt charges) is the one sealed with the answer. */
function sameUsage(clear: unknown, sealed: unknown): boolean {
  return isRecord(clear) && isRecord(sealed) && canonicalJson(clear) === canonicalJson(sealed);
}
