import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobId } from "@atoma/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  BlobHashMismatchError,
  BlobNotFoundError,
  BlobTooLargeError,
  InvalidBlobIdError,
} from "../errors.js";
import { parseBlobId } from "./blobId.js";
import { BlobStore } from "./blobStore.js";

const root = mkdtempSync(join(tmpdir(), "atoma-blobs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function store(name: string, maxBytes = 1_024) {
  const blobs = new BlobStore({}, { dir: join(root, name), maxBytes });
  await blobs.start();
  return blobs;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("BlobStore", () => {
  it("stores content-addressed bytes once and reads them back", async () => {
    const blobs = await store("roundtrip");
    const data = bytes("the owner-signed requests, in order");
    const first = await blobs.put(data);
    expect(first).toEqual({ id: blobId(data), size: data.byteLength, created: true });
    expect(await blobs.put(data)).toEqual({ ...first, created: false });
    expect(await blobs.get(first.id)).toEqual(data);
    expect(await blobs.get(first.id.toUpperCase().replace("0X", "0x"))).toEqual(data);
    expect(await blobs.has(first.id)).toBe(true);
    const opened = await blobs.open(first.id);
    expect(opened.size).toBe(data.byteLength);
    expect(new Uint8Array(await new Response(opened.stream).arrayBuffer())).toEqual(data);
    const empty = await blobs.put(new Uint8Array());
    expect(await blobs.get(empty.id)).toEqual(new Uint8Array());
  });

  it("stores the same bytes written concurrently exactly once", async () => {
    const blobs = await store("concurrent");
    const data = bytes("x".repeat(500));
    const results = await Promise.all(Array.from({ length: 10 }, () => blobs.put(data)));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await blobs.get(blobId(data))).toEqual(data);
    expect(readdirSync(join(root, "concurrent", "tmp"))).toEqual([]);
  });

  it("refuses blobs over the limit and bad ids, and reports missing ones", async () => {
    const blobs = await store("limits", 16);
    await expect(blobs.put(new Uint8Array(17))).rejects.toThrow(BlobTooLargeError);
    await blobs.put(new Uint8Array(16));
    for (const bad of [
      "",
      "0x",
      "abc",
      `0x${"g".repeat(64)}`,
      `${"a".repeat(64)}`,
      `0x${"a".repeat(63)}`,
      "../../etc",
    ])
      await expect(blobs.get(bad)).rejects.toThrow(InvalidBlobIdError);
    await expect(blobs.get(`0x${"ab".repeat(32)}`)).rejects.toThrow(BlobNotFoundError);
    await expect(blobs.open(`0x${"ab".repeat(32)}`)).rejects.toThrow(BlobNotFoundError);
    expect(parseBlobId(`0x${"AB".repeat(32)}`)).toBe(`0x${"ab".repeat(32)}`);
  });

  it("notices a blob whose file was altered on disk", async () => {
    const blobs = await store("tamper");
    const { id } = await blobs.put(bytes("original"));
    writeFileSync(join(root, "tamper", id.slice(2, 4), id), "altered");
    await expect(blobs.get(id)).rejects.toThrow(BlobHashMismatchError);
  });

  it("clears partial writes left by a crash when it starts", async () => {
    const blobs = await store("crash");
    writeFileSync(join(root, "crash", "tmp", "deadbeef-partial"), "half a blo");
    await blobs.start();
    expect(readdirSync(join(root, "crash", "tmp"))).toEqual([]);
  });
});
