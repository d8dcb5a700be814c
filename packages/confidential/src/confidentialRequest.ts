import { SEALED_ANSWER_OBJECT } from "@atoma/core";
import { fromHex, type HexString } from "./bytes.js";
import { AttestationMalformedError } from "./errors.js";
import { type SealedRequest, sealRequest } from "./hpke.js";
import { type ResponseOpener, sealedRequestSize } from "./responseStream.js";

const SPACE = 0x20;

/**
 * The body of a confidential request: an ordinary JSON body with one field, so it is signed, hashed, routed and
 * stored like any other (its request hash is the hash of this envelope). `enc` is HPKE's encapsulated key,
 * `ciphertext` the sealed JSON text of the OpenAI request.
 */
export const CONFIDENTIAL_FIELD = "atoma_confidential";
export const CONFIDENTIAL_VERSION = 1;

export interface ConfidentialEnvelope {
  [CONFIDENTIAL_FIELD]: { v: typeof CONFIDENTIAL_VERSION; enc: HexString; ciphertext: HexString };
}

/** The `object` of a sealed answer, of one sealed stream chunk, and the plaintext of a stream's last chunk. */
export { SEALED_ANSWER_OBJECT };
export const SEALED_CHUNK_OBJECT = "atoma.confidential.chunk";
export const SEALED_END_OBJECT = "atoma.confidential.end";
/**
 * The `object` of an error raised after a sealed request opened (a bad tool schema, a prompt too long, an engine
 * or upstream message): the clear part holds only the status's OpenAI `type` and stable `code`, with a fixed
 * message and no `param`; `sealed` is the answer's next chunk (final) holding the full `{ error }` body.
 */
export const SEALED_ERROR_OBJECT = "atoma.confidential.error";

/** What an OpenAI-shaped error body carries, once opened from a sealed error. */
export interface OpenedError {
  message: string;
  type: string;
  param: string | null;
  code: string;
}

/**
 * The answer as the node records it in the leaf and a client re-hashes it: every sealed chunk in order (one, final,
 * for a non-streamed answer) and the usage in clear (it is what the receipt's units are computed from).
 */
export interface SealedAnswer {
  object: typeof SEALED_ANSWER_OBJECT;
  chunks: HexString[];
  usage: { prompt_tokens: number; completion_tokens?: number | undefined; total_tokens?: number | undefined };
}

/** What a sealed request is bound to: it opens only for this signed request, at this endpoint. */
export interface ConfidentialRequestContext {
  stackId: bigint;
  nonce: bigint;
  deadline: bigint;
  /** The API path, e.g. `/v1/chat/completions`. */
  path: string;
}

/** Bounds on the envelope, checked before any decryption (the node's body limit bounds it further). */
const MAX_CIPHERTEXT_CHARS = 64 * 1024 * 1024;

/** HPKE `info` context of a request: the stack, the signed nonce and deadline, and the path, newline-separated. */
export function confidentialContext(context: ConfidentialRequestContext): Uint8Array {
  return new TextEncoder().encode(
    `stack=${context.stackId}\nnonce=${context.nonce}\ndeadline=${context.deadline}\npath=${context.path}`,
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** True when `body` claims to be a confidential envelope (whether or not it is a well-formed one). */
export function isConfidentialBody(body: Record<string, unknown>): boolean {
  return Object.hasOwn(body, CONFIDENTIAL_FIELD);
}

/**
 * Reads a confidential envelope; throws `AttestationMalformedError` unless it is exactly `{ atoma_confidential:
 * { v: 1, enc: 32 bytes hex, ciphertext: hex } }` (no field beside it: nothing travels in clear by accident).
 */
export function readConfidentialEnvelope(body: Record<string, unknown>): SealedRequest {
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== CONFIDENTIAL_FIELD)
    throw new AttestationMalformedError(`a confidential body has the single field ${CONFIDENTIAL_FIELD}`);
  const inner = body[CONFIDENTIAL_FIELD];
  if (!isRecord(inner) || inner.v !== CONFIDENTIAL_VERSION)
    throw new AttestationMalformedError(`${CONFIDENTIAL_FIELD}.v must be ${CONFIDENTIAL_VERSION}`);
  const { enc, ciphertext } = inner;
  if (typeof enc !== "string" || typeof ciphertext !== "string")
    throw new AttestationMalformedError(`${CONFIDENTIAL_FIELD} needs enc and ciphertext as hex strings`);
  if (ciphertext.length > MAX_CIPHERTEXT_CHARS)
    throw new AttestationMalformedError(`${CONFIDENTIAL_FIELD}.ciphertext is too long`);
  fromHex(enc, `${CONFIDENTIAL_FIELD}.enc`, 32);
  if (fromHex(ciphertext, `${CONFIDENTIAL_FIELD}.ciphertext`).length < 16)
    throw new AttestationMalformedError(`${CONFIDENTIAL_FIELD}.ciphertext is shorter than its tag`);
  return { enc: enc.toLowerCase() as HexString, ciphertext: ciphertext as HexString };
}

/**
 * The client's way to read a confidential answer: opens each sealed chunk in order (refusing any dropped,
 * reordered, repeated or changed) and rebuilds the `SealedAnswer` whose hash the node's receipt signs.
 */
export class ConfidentialAnswerReader {
  readonly #opener: ResponseOpener;
  readonly #chunks: HexString[] = [];

  constructor(opener: ResponseOpener) {
    this.#opener = opener;
  }

  /** Opens one sealed chunk (hex) and parses its JSON. */
  openChunk(sealed: string): unknown {
    const plaintext = this.#opener.open(fromHex(sealed, "sealed chunk"));
    this.#chunks.push(sealed.toLowerCase() as HexString);
    return JSON.parse(new TextDecoder().decode(plaintext));
  }

  /** True once the final chunk was opened. */
  get complete(): boolean {
    return this.#opener.complete;
  }

  /** Throws `StreamTruncatedError` unless the final chunk arrived; returns what the receipt's hash covers. */
  finish(usage: SealedAnswer["usage"]): SealedAnswer {
    this.#opener.finish();
    return { object: SEALED_ANSWER_OBJECT, chunks: [...this.#chunks], usage };
  }

  /**
   * Opens the sealed error of a `SEALED_ERROR_OBJECT` body or stream event (`{ object, error, sealed }`): the next
   * chunk of this answer, final. Returns the full error; throws (`StreamChunk…Error`) when it is not this answer's.
   */
  openError(body: { sealed?: unknown }): OpenedError {
    if (typeof body.sealed !== "string")
      throw new AttestationMalformedError("a sealed error carries `sealed`");
    const opened = this.openChunk(body.sealed) as { error?: unknown };
    const error = opened?.error;
    if (
      !this.complete ||
      !isRecord(error) ||
      typeof error.message !== "string" ||
      typeof error.code !== "string"
    )
      throw new AttestationMalformedError(
        "a sealed error opens to a final { error: { message, code } } chunk",
      );
    return {
      message: error.message,
      type: typeof error.type === "string" ? error.type : "server_error",
      param: typeof error.param === "string" ? error.param : null,
      code: error.code,
    };
  }

  /**
   * A fresh reader of the same request's answer, for a resend of the same signed request after a transport cut:
   * the node seals each opening under a new salt (taken from chunk 0), so the new answer is read from its start.
   */
  retry(): ConfidentialAnswerReader {
    return new ConfidentialAnswerReader(this.#opener.restart());
  }

  /** A non-streamed answer: opens its chunks (one, final) and returns the OpenAI response inside. */
  openAnswer(answer: { chunks?: unknown; usage?: unknown }): { response: unknown; sealed: SealedAnswer } {
    if (!Array.isArray(answer.chunks) || !isRecord(answer.usage))
      throw new AttestationMalformedError("a sealed answer has chunks and usage");
    let response: unknown;
    for (const chunk of answer.chunks) {
      if (typeof chunk !== "string") throw new AttestationMalformedError("a sealed chunk is hex");
      response = this.openChunk(chunk);
    }
    return { response, sealed: this.finish(answer.usage as SealedAnswer["usage"]) };
  }
}

/**
 * Seals an OpenAI request body to a node's attested key, bound to the signed request's stack, nonce, deadline and
 * path. Returns the body to sign and send, and the reader of the answer.
 */
export async function sealConfidentialRequest(
  nodePublicKey: HexString,
  body: Record<string, unknown>,
  context: ConfidentialRequestContext,
): Promise<{ body: ConfidentialEnvelope; reader: ConfidentialAnswerReader }> {
  const json = new TextEncoder().encode(JSON.stringify(body));
  const plaintext = new Uint8Array(sealedRequestSize(json.length)).fill(SPACE);
  plaintext.set(json, 0);
  const { request, response } = await sealRequest(nodePublicKey, plaintext, confidentialContext(context));
  return {
    body: {
      [CONFIDENTIAL_FIELD]: { v: CONFIDENTIAL_VERSION, enc: request.enc, ciphertext: request.ciphertext },
    },
    reader: new ConfidentialAnswerReader(response),
  };
}
