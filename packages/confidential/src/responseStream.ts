import { createCipheriv, createDecipheriv } from "node:crypto";
import {
  StreamAfterEndError,
  StreamChunkDuplicatedError,
  StreamChunkOutOfOrderError,
  StreamChunkTamperedError,
  StreamTruncatedError,
} from "./errors.js";

const encoder = new TextEncoder();
const KEY_LABEL = encoder.encode("atoma/response/key");
const NONCE_LABEL = encoder.encode("atoma/response/nonce");
const AAD_PREFIX = encoder.encode("atoma/response-chunk/v1\0");
const HEADER_BYTES = 9;
const TAG_BYTES = 16;

/** The answer's AES-256-GCM key and base nonce, both exported from the request's HPKE context. */
export interface ResponseKeys {
  key: Buffer;
  baseNonce: Buffer;
}

export async function responseKeys(context: {
  export(label: Uint8Array, length: number): Promise<ArrayBuffer>;
}): Promise<ResponseKeys> {
  return {
    key: Buffer.from(await context.export(KEY_LABEL, 32)),
    baseNonce: Buffer.from(await context.export(NONCE_LABEL, 12)),
  };
}

/** Base nonce XOR the sequence number in its last 8 bytes, as HPKE derives its own nonces. */
function chunkNonce(baseNonce: Buffer, seq: bigint): Buffer {
  const nonce = Buffer.from(baseNonce);
  const low = nonce.readBigUInt64BE(4) ^ seq;
  nonce.writeBigUInt64BE(low, 4);
  return nonce;
}

/** Chunk header: sequence number (u64 BE) and a final flag; it is also the variable part of the AAD. */
function header(seq: bigint, final: boolean): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeBigUInt64BE(seq, 0);
  out[8] = final ? 1 : 0;
  return out;
}

const aad = (head: Buffer) => Buffer.concat([AAD_PREFIX, head]);

/**
 * The node's side of an answer: each chunk is `seq ‖ final ‖ AES-256-GCM(ciphertext ‖ tag)`, sealed with its own
 * sequence number and final flag in the AAD, so the client notices a chunk dropped, reordered, repeated or cut off.
 */
export class ResponseSealer {
  readonly #keys: ResponseKeys;
  #seq = 0n;
  #ended = false;

  constructor(keys: ResponseKeys) {
    this.#keys = keys;
  }

  /** Seals the next chunk; `final` marks the last one (a whole non-streamed answer is a single final chunk). */
  seal(plaintext: Uint8Array, final = false): Uint8Array {
    if (this.#ended) throw new StreamAfterEndError("the answer's final chunk was already sealed");
    const head = header(this.#seq, final);
    const cipher = createCipheriv("aes-256-gcm", this.#keys.key, chunkNonce(this.#keys.baseNonce, this.#seq));
    cipher.setAAD(aad(head));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    this.#seq += 1n;
    this.#ended = final;
    return new Uint8Array(Buffer.concat([head, body]));
  }
}

/** The client's side: opens chunks strictly in order and knows whether the answer arrived whole. */
export class ResponseOpener {
  readonly #keys: ResponseKeys;
  #next = 0n;
  #ended = false;

  constructor(keys: ResponseKeys) {
    this.#keys = keys;
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
    const head = bytes.subarray(0, HEADER_BYTES);
    const sealed = bytes.subarray(HEADER_BYTES);
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#keys.key, chunkNonce(this.#keys.baseNonce, seq));
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
    this.#next += 1n;
    this.#ended = head[8] === 1;
    return new Uint8Array(plaintext);
  }

  /** Call when the transport ends: throws `StreamTruncatedError` unless the final chunk was opened. */
  finish(): void {
    if (!this.#ended)
      throw new StreamTruncatedError(`the answer ended after ${this.#next} chunks without its final chunk`);
  }
}
