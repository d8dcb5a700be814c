import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import {
  StreamAfterEndError,
  StreamChunkDuplicatedError,
  StreamChunkOutOfOrderError,
  StreamChunkTamperedError,
  StreamTruncatedError,
} from "./errors.js";

const encoder = new TextEncoder();
// v3: chunk plaintexts are padded to a bucket (a v2 chunk does not open as v3, nor the other way round).
const SECRET_LABEL = encoder.encode("atoma/response/secret/v3");
const KEY_INFO = encoder.encode("atoma/response/key/v3");
const NONCE_INFO = encoder.encode("atoma/response/nonce/v3");
const AAD_PREFIX = encoder.encode("atoma/response-chunk/v3\0");
const HEADER_BYTES = 9;
/** The node's random salt, in clear after chunk 0's header (and so in its AAD). */
export const RESPONSE_SALT_BYTES = 32;
const TAG_BYTES = 16;

/**
 * The answer's secret, exported from the request's HPKE context. It is the same every time the same sealed request
 * is opened (a resend, a retry after a cut stream), so it is never used as a key directly: each opening draws a
 * fresh salt and the chunk key and base nonce are HKDF(secret, salt), see `ResponseKeys`.
 */
export interface ResponseSecret {
  secret: Buffer;
}

/**
 * The sizes a chunk's padded plaintext takes (before the AES-GCM tag): 512 bytes, then each power of two up to
 * 64 KiB, then whole multiples of 64 KiB. A stream chunk holds one token or a few in some 200 bytes of JSON: every
 * one seals to 512, so the gateway (or anyone on the path) sees no token's length.
 */
export const SEALED_CHUNK_BUCKETS: readonly number[] = Array.from({ length: 8 }, (_, i) => 512 * 2 ** i);
const LARGEST_BUCKET = SEALED_CHUNK_BUCKETS.at(-1)!;

/** The padded size for `bytes` of plaintext plus the one-byte padding marker. */
export function sealedChunkBucket(bytes: number): number {
  const needed = bytes + 1;
  return (
    SEALED_CHUNK_BUCKETS.find((bucket) => bucket >= needed) ??
    Math.ceil(needed / LARGEST_BUCKET) * LARGEST_BUCKET
  );
}

/**
 * The size a sealed request's JSON text is padded to (with spaces, which JSON reads past): the smallest of
 * `SEALED_CHUNK_BUCKETS` that holds it, else the next multiple of the largest. Whoever carries the envelope (a
 * gateway, the path) sees the bucket, never the prompt's length, nor a conversation's growth turn by turn.
 */
export function sealedRequestSize(bytes: number): number {
  return (
    SEALED_CHUNK_BUCKETS.find((bucket) => bucket >= bytes) ??
    Math.ceil(bytes / LARGEST_BUCKET) * LARGEST_BUCKET
  );
}

/** `plaintext ‖ 0x80 ‖ 0x00…` up to its bucket (ISO/IEC 7816-4 padding: always removable, whatever the text). */
function pad(plaintext: Uint8Array): Buffer {
  const out = Buffer.alloc(sealedChunkBucket(plaintext.length));
  out.set(plaintext, 0);
  out[plaintext.length] = 0x80;
  return out;
}

/** The plaintext of a padded chunk; `undefined` when the padding is not well formed. */
function unpad(padded: Buffer): Buffer | undefined {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  return end >= 0 && padded[end] === 0x80 ? padded.subarray(0, end) : undefined;
}

/** The AES-256-GCM key and base nonce of one sealing of an answer: HKDF-SHA256 of the secret under its salt. */
export interface ResponseKeys {
  key: Buffer;
  baseNonce: Buffer;
}

export async function responseSecret(context: {
  export(label: Uint8Array, length: number): Promise<ArrayBuffer>;
}): Promise<ResponseSecret> {
  return { secret: Buffer.from(await context.export(SECRET_LABEL, 32)) };
}

/** The chunk key and base nonce of the answer sealed under `salt`. */
export function responseKeys(secret: ResponseSecret, salt: Uint8Array): ResponseKeys {
  return {
    key: Buffer.from(hkdfSync("sha256", secret.secret, salt, KEY_INFO, 32)),
    baseNonce: Buffer.from(hkdfSync("sha256", secret.secret, salt, NONCE_INFO, 12)),
  };
}

/** Base nonce XOR the sequence number in its last 8 bytes, as HPKE derives its own nonces. */
function chunkNonce(baseNonce: Buffer, seq: bigint): Buffer {
  const nonce = Buffer.from(baseNonce);
  const low = nonce.readBigUInt64BE(4) ^ seq;
  nonce.writeBigUInt64BE(low, 4);
  return nonce;
}

/**
 * Chunk header: sequence number (u64 BE) and a final flag, then for chunk 0 only the salt; it is also the variable
 * part of the AAD.
 */
function header(seq: bigint, final: boolean, salt: Uint8Array | undefined): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + (salt ? salt.length : 0));
  out.writeBigUInt64BE(seq, 0);
  out[8] = final ? 1 : 0;
  if (salt) out.set(salt, HEADER_BYTES);
  return out;
}

const aad = (head: Buffer) => Buffer.concat([AAD_PREFIX, head]);

/**
 * The node's side of an answer: each chunk is `seq ‖ final ‖ AES-256-GCM(padded plaintext) ‖ tag`, the plaintext
 * padded to its `SEALED_CHUNK_BUCKETS` size, sealed with its own
 * sequence number and final flag in the AAD, so the client notices a chunk dropped, reordered, repeated or cut off.
 * Chunk 0 also carries, after its header and inside its AAD, the salt this sealer drew at random: the keys are
 * HKDF(secret, salt), so opening the same sealed request twice (a resend, a gateway cutting a stream and sending the
 * request again) never seals two answers under one AES-GCM key and nonce.
 */
export class ResponseSealer {
  readonly #keys: ResponseKeys;
  readonly #salt: Buffer;
  #seq = 0n;
  #ended = false;

  constructor(secret: ResponseSecret, salt: Uint8Array = randomBytes(RESPONSE_SALT_BYTES)) {
    if (salt.length !== RESPONSE_SALT_BYTES)
      throw new RangeError(`a response salt is ${RESPONSE_SALT_BYTES} bytes`);
    this.#salt = Buffer.from(salt);
    this.#keys = responseKeys(secret, this.#salt);
  }

  /** Seals the next chunk; `final` marks the last one (a whole non-streamed answer is a single final chunk). */
  seal(plaintext: Uint8Array, final = false): Uint8Array {
    if (this.#ended) throw new StreamAfterEndError("the answer's final chunk was already sealed");
    const head = header(this.#seq, final, this.#seq === 0n ? this.#salt : undefined);
    const cipher = createCipheriv("aes-256-gcm", this.#keys.key, chunkNonce(this.#keys.baseNonce, this.#seq));
    cipher.setAAD(aad(head));
    const body = Buffer.concat([cipher.update(pad(plaintext)), cipher.final(), cipher.getAuthTag()]);
    this.#seq += 1n;
    this.#ended = final;
    return new Uint8Array(Buffer.concat([head, body]));
  }
}

/**
 * The client's side: opens chunks strictly in order and knows whether the answer arrived whole. It takes the salt
 * from chunk 0 (nothing for the caller to do), and chunks of another sealing of the same request (another salt)
 * do not open after it.
 */
export class ResponseOpener {
  readonly #secret: ResponseSecret;
  #keys: ResponseKeys | undefined;
  #next = 0n;
  #ended = false;

  constructor(secret: ResponseSecret) {
    this.#secret = secret;
  }

  /** A new opener of the same request's answer, from chunk 0 (another opening of the request: another salt). */
  restart(): ResponseOpener {
    return new ResponseOpener(this.#secret);
  }

  /** True once the sealed final chunk has been opened. */
  get complete(): boolean {
    return this.#ended;
  }

  open(chunk: Uint8Array): Uint8Array {
    if (chunk.length < HEADER_BYTES + TAG_BYTES) throw new StreamChunkTamperedError("the chunk is too short");
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const seq = bytes.readBigUInt64BE(0);
    if (this.#ended) throw new StreamAfterEndError(`chunk ${seq} arrived after the final chunk`);
    if (seq < this.#next) throw new StreamChunkDuplicatedError(`chunk ${seq} was already received`);
    if (seq > this.#next)
      throw new StreamChunkOutOfOrderError(`chunk ${seq} arrived while chunk ${this.#next} was expected`);
    const headBytes = seq === 0n ? HEADER_BYTES + RESPONSE_SALT_BYTES : HEADER_BYTES;
    if (chunk.length < headBytes + TAG_BYTES) throw new StreamChunkTamperedError("the chunk is too short");
    const head = bytes.subarray(0, headBytes);
    const sealed = bytes.subarray(headBytes);
    const keys = this.#keys ?? responseKeys(this.#secret, head.subarray(HEADER_BYTES));
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-gcm", keys.key, chunkNonce(keys.baseNonce, seq));
      decipher.setAAD(aad(Buffer.from(head)));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      plaintext = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (error) {
      throw new StreamChunkTamperedError(`chunk ${seq} does not open under its sequence number`, {
        cause: error,
      });
    }
    // Authentic, so only a node sealing badly could pad it so: refused as the chunk it is, never read as text.
    const unpadded = unpad(plaintext);
    if (unpadded === undefined) throw new StreamChunkTamperedError(`chunk ${seq} is not padded`);
    this.#keys = keys;
    this.#next += 1n;
    this.#ended = head[8] === 1;
    return new Uint8Array(unpadded);
  }

  /** Call when the transport ends: throws `StreamTruncatedError` unless the final chunk was opened. */
  finish(): void {
    if (!this.#ended)
      throw new StreamTruncatedError(`the answer ended after ${this.#next} chunks without its final chunk`);
  }
}
