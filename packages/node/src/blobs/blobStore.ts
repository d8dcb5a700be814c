import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { blobId, type Hash, type Logger, silentLogger } from "@atoma/core";
import { BlobHashMismatchError, BlobNotFoundError, BlobTooLargeError } from "../errors.js";
import { parseBlobId } from "./blobId.js";

export interface BlobStoreComponents {
  logger?: Logger | undefined;
}

export interface BlobStoreOptions {
  /** Directory holding the blobs (created if missing). */
  dir: string;
  /** Largest blob accepted. @default 67108864 */
  maxBytes?: number | undefined;
}

export interface StoredBlob {
  id: Hash;
  size: number;
  /** False when the same bytes were already stored. */
  created: boolean;
}

/**
 * Content-addressed files: a blob's id is `keccak256(bytes)` and its file lives at `{dir}/{id[2..4]}/{id}`.
 * Writes go to a temporary file that is synced and renamed into place, so a blob is either absent or whole,
 * even after a crash. Reads check the bytes still hash to their id.
 */
export class BlobStore {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #maxBytes: number;
  readonly #logger: Logger;

  constructor(components: BlobStoreComponents, options: BlobStoreOptions) {
    this.#dir = options.dir;
    this.#tmp = join(options.dir, "tmp");
    this.#maxBytes = options.maxBytes ?? 67_108_864;
    this.#logger = (components.logger ?? silentLogger).child({ module: "blobs" });
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Creates the directory and clears temporary files a crash left behind. */
  async start(): Promise<void> {
    await mkdir(this.#tmp, { recursive: true, mode: 0o700 });
    const leftovers = await readdir(this.#tmp);
    await Promise.all(leftovers.map((name) => rm(join(this.#tmp, name), { force: true })));
    if (leftovers.length > 0) this.#logger.info({ removed: leftovers.length }, "removed partial blob writes");
  }

  async stop(): Promise<void> {}

  #path(id: Hash): string {
    return join(this.#dir, id.slice(2, 4), id);
  }

  /** Stores `bytes` and returns their id; storing the same bytes again changes nothing. */
  async put(bytes: Uint8Array): Promise<StoredBlob> {
    if (bytes.byteLength > this.#maxBytes) throw new BlobTooLargeError(this.#maxBytes);
    const id = blobId(bytes);
    const path = this.#path(id);
    if (await exists(path)) return { id, size: bytes.byteLength, created: false };
    await mkdir(join(this.#dir, id.slice(2, 4)), { recursive: true, mode: 0o700 });
    const tmp = join(this.#tmp, `${id.slice(2, 18)}-${randomBytes(6).toString("hex")}`);
    const file = await open(tmp, "wx", 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    await syncDir(join(this.#dir, id.slice(2, 4)));
    this.#logger.debug({ id, size: bytes.byteLength }, "blob stored");
    return { id, size: bytes.byteLength, created: true };
  }

  async has(id: string): Promise<boolean> {
    return exists(this.#path(parseBlobId(id)));
  }

  /** The blob's bytes, checked against its id. Throws `BlobNotFoundError` or `BlobHashMismatchError`. */
  async get(id: string): Promise<Uint8Array> {
    const hash = parseBlobId(id);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#path(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new BlobNotFoundError(hash);
      throw error;
    }
    const actual = blobId(bytes);
    if (actual !== hash) throw new BlobHashMismatchError(hash, actual);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A stream of the blob's bytes and its size, for serving over HTTP (the client checks the hash). */
  async open(id: string): Promise<{ id: Hash; size: number; stream: ReadableStream<Uint8Array> }> {
    const hash = parseBlobId(id);
    const path = this.#path(hash);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new BlobNotFoundError(hash);
      throw error;
    }
    const stream = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
    return { id: hash, size, stream };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Makes a rename durable: sync the directory that holds the new name. */
async function syncDir(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
