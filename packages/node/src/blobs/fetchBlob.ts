import { blobId } from "@atoma/core";
import { redactUrl } from "../config/redact.js";
import { BlobFetchError, BlobHashMismatchError, BlobNotFoundError, BlobTooLargeError } from "../errors.js";
import { parseBlobId } from "./blobId.js";

export interface FetchBlobOptions {
  /** Largest blob accepted; a bigger one is cut off with `BlobTooLargeError`. @default 67108864 */
  maxBytes?: number | undefined;
  /** Milliseconds for the whole download. @default 30000 */
  timeoutMs?: number | undefined;
  /** Aborts the download early. */
  signal?: AbortSignal | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
}

/**
 * Downloads blob `id` from a node (`GET {baseUrl}/v1/blobs/{id}`) and returns its bytes only if they hash to
 * `id`: what an attester does with an inputs transcript. Bounded in size and time; redirects are refused.
 * Throws `BlobNotFoundError`, `BlobTooLargeError`, `BlobHashMismatchError` or `BlobFetchError`.
 */
export async function fetchBlob(
  baseUrl: string,
  id: string,
  options: FetchBlobOptions = {},
): Promise<Uint8Array> {
  const hash = parseBlobId(id);
  const maxBytes = options.maxBytes ?? 67_108_864;
  const url = `${baseUrl.replace(/\/+$/, "")}/v1/blobs/${hash}`;
  const where = redactUrl(url);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { signal, redirect: "error" });
  } catch (cause) {
    throw new BlobFetchError(`fetching ${where} failed`, { cause });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw new BlobNotFoundError(hash);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new BlobFetchError(`fetching ${where} answered ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new BlobTooLargeError(maxBytes);
  }
  const bytes = await readBounded(response, maxBytes, where);
  const actual = blobId(bytes);
  if (actual !== hash) throw new BlobHashMismatchError(hash, actual);
  return bytes;
}

async function readBounded(response: Response, maxBytes: number, where: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new BlobTooLargeError(maxBytes);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof BlobTooLargeError) throw cause;
    throw new BlobFetchError(`reading ${where} failed`, { cause });
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
