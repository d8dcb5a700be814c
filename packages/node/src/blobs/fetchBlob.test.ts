import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { blobId } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BlobFetchError,
  BlobHashMismatchError,
  BlobNotFoundError,
  BlobTooLargeError,
  InvalidBlobIdError,
} from "../errors.js";
import { fetchBlob } from "./fetchBlob.js";

const good = new TextEncoder().encode("inputs transcript");
const goodId = blobId(good);
const big = new Uint8Array(4_096).fill(7);
const bigId = blobId(big);
const liedAbout = `0x${"11".repeat(32)}`;
const slowId = `0x${"22".repeat(32)}`;
const brokenId = `0x${"33".repeat(32)}`;
const chunkedBigId = `0x${"44".repeat(32)}`;
const redirectId = `0x${"55".repeat(32)}`;

// A real HTTP server playing honest, lying, slow and broken nodes.
let server: Server;
let baseUrl: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const id = req.url?.split("/").pop();
    if (id === goodId) res.end(good);
    else if (id === bigId) res.end(big);
    else if (id === liedAbout) res.end(good);
    else if (id === slowId) setTimeout(() => res.end(good), 2_000);
    else if (id === brokenId) res.writeHead(500).end("oops");
    else if (id === redirectId) res.writeHead(302, { location: `/v1/blobs/${goodId}` }).end();
    else if (id === chunkedBigId) {
      res.writeHead(200, { "transfer-encoding": "chunked" });
      for (let i = 0; i < 8; i++) res.write(new Uint8Array(1_024));
      res.end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("fetchBlob", () => {
  it("returns bytes that hash to the id asked for", async () => {
    expect(await fetchBlob(baseUrl, goodId)).toEqual(good);
    expect(await fetchBlob(baseUrl, bigId, { maxBytes: 4_096 })).toEqual(big);
  });

  it("refuses bytes that do not match, too many bytes, slow or failing servers, and redirects", async () => {
    await expect(fetchBlob(baseUrl, liedAbout)).rejects.toThrow(BlobHashMismatchError);
    await expect(fetchBlob(baseUrl, bigId, { maxBytes: 1_000 })).rejects.toThrow(BlobTooLargeError);
    await expect(fetchBlob(baseUrl, chunkedBigId, { maxBytes: 2_000 })).rejects.toThrow(BlobTooLargeError);
    await expect(fetchBlob(baseUrl, slowId, { timeoutMs: 200 })).rejects.toThrow(BlobFetchError);
    await expect(fetchBlob(baseUrl, brokenId)).rejects.toThrow(/answered 500/);
    await expect(fetchBlob(baseUrl, redirectId)).rejects.toThrow(BlobFetchError);
    await expect(fetchBlob(baseUrl, `0x${"66".repeat(32)}`)).rejects.toThrow(BlobNotFoundError);
    await expect(fetchBlob(baseUrl, "nope")).rejects.toThrow(InvalidBlobIdError);
  });

  it("keeps credentials in the node's URL out of its errors", async () => {
    const error = await fetchBlob("http://user:hunter2@127.0.0.1:1", goodId, { timeoutMs: 2_000 }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(BlobFetchError);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
