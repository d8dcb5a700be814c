import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError, LeafTree, verifyMerkleProof } from "@atoma/core";
import { keccak256 } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { WeightsRootMismatchError } from "../errors.js";
import { assertWeightsRoot, WEIGHTS_CHUNK_BYTES, weightsLeaves, weightsRoot } from "./weightsRoot.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-root-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): { path: string; bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 11)) & 0xff;
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe("weightsRoot", () => {
  it("is the OpenZeppelin-compatible root over keccak256 of each 1 MiB chunk", async () => {
    const { path, bytes } = file("three.bin", 2 * WEIGHTS_CHUNK_BYTES + 12345);
    const leaves = [0, 1, 2].map((i) =>
      keccak256(bytes.subarray(i * WEIGHTS_CHUNK_BYTES, (i + 1) * WEIGHTS_CHUNK_BYTES)),
    );
    expect(await weightsLeaves(path)).toEqual(leaves);
    const tree = new LeafTree(leaves);
    expect(await weightsRoot(path)).toBe(tree.root);
    expect(verifyMerkleProof(tree.root, leaves[2]!, tree.proof(2))).toBe(true);
  });

  it("is the chunk's hash for a file of one chunk, exact multiples have no empty chunk", async () => {
    const small = file("small.bin", 1000);
    expect(await weightsRoot(small.path)).toBe(keccak256(small.bytes));
    expect(await weightsLeaves(file("exact.bin", 2 * WEIGHTS_CHUNK_BYTES).path)).toHaveLength(2);
  });

  it("refuses an empty file and a root that differs", async () => {
    await expect(weightsRoot(file("empty.bin", 0).path)).rejects.toBeInstanceOf(InvalidInputError);
    const { path } = file("model.bin", 5000);
    await expect(assertWeightsRoot(path, await weightsRoot(path))).resolves.toBeUndefined();
    await expect(assertWeightsRoot(path, `0x${"00".repeat(32)}`)).rejects.toBeInstanceOf(
      WeightsRootMismatchError,
    );
  });
});
