import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Hash, stackRoot, verifyStackProof } from "@atoma/core";
import { keccak256, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStateDatabase, type StateDatabase } from "../db/openStateDatabase.js";
import { readLeafProof } from "./leafProof.js";
import { SettledTreeCache } from "./settledTreeCache.js";

const root = mkdtempSync(join(tmpdir(), "atoma-leaf-proof-"));
const chain = { chainId: 31_337, settlementManager: undefined };
let state: StateDatabase;

const hashOf = (text: string) => keccak256(toHex(text));

/** A settled stack of `count` leaves, as the settlement froze them. */
async function settledStack(stackId: bigint, count: number): Promise<Hash> {
  const { db } = state;
  await db
    .insertInto("stacks")
    .values({
      stack_id: stackId,
      owner: `0x${"11".repeat(20)}`,
      task_id: 1n,
      serving_node_id: 1n,
      units_bought: 1_000n,
      price_per_million: 1n,
      expires_at: 0n,
    })
    .execute();
  const leaves = Array.from({ length: count }, (_, i) => hashOf(`${stackId}/${i}`));
  await db
    .insertInto("leaves")
    .values(
      leaves.map((leaf, i) => ({
        stack_id: stackId,
        leaf_index: BigInt(i),
        req_hash: hashOf(`req ${i}`),
        resp_hash: hashOf(`resp ${i}`),
        leaf_hash: leaf,
        units: 1n,
        cumulative_units: BigInt(i + 1),
        seed: 0n,
        nonce: BigInt(i),
        request: "{}",
      })),
    )
    .execute();
  const merkleRoot = stackRoot(leaves);
  await db
    .insertInto("settlements")
    .values({
      stack_id: stackId,
      leaf_count: BigInt(count),
      units_claimed: BigInt(count),
      merkle_root: merkleRoot,
      settle_tx: hashOf(`settle ${stackId}`),
    })
    .execute();
  return merkleRoot;
}

/** Whatever the node still reads from its database: nothing, once the leaves are gone. */
const forgetLeaves = (stackId: bigint) =>
  state.db.deleteFrom("leaves").where("stack_id", "=", stackId).execute();

beforeAll(async () => {
  state = await openStateDatabase({ kind: "embedded", dir: join(root, "db") });
});
afterAll(async () => {
  await state?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("readLeafProof with a settled tree cache", () => {
  it("reads a settled stack's leaves once: the second proof for it comes from the cached tree", async () => {
    const merkleRoot = await settledStack(1n, 5);
    const cache = new SettledTreeCache();
    const first = await readLeafProof(state.db, chain, 1n, 0n, cache);
    await forgetLeaves(1n);
    const second = await readLeafProof(state.db, chain, 1n, 3n, cache);
    expect(second).toMatchObject({ root: merkleRoot, leaf_index: "3", leaf_count: "5" });
    expect(second.leaf).toMatchObject({ nonce: "3", cumulative_units: "4", request_hash: hashOf("req 3") });
    expect(verifyStackProof(merkleRoot, second.leaf_hash, 3, 5, second.proof)).toBe(true);
    expect(verifyStackProof(merkleRoot, first.leaf_hash, 0, 5, first.proof)).toBe(true);
    // Without the cache the leaves are read again: gone now, the proof cannot be built.
    await expect(readLeafProof(state.db, chain, 1n, 3n)).rejects.toThrow();
  });

  it("keeps no more leaves than its bound, dropping the stack used longest ago", async () => {
    const cache = new SettledTreeCache(6);
    await settledStack(2n, 4);
    await settledStack(3n, 4);
    await settledStack(4n, 7);
    await readLeafProof(state.db, chain, 2n, 0n, cache);
    await readLeafProof(state.db, chain, 3n, 0n, cache);
    await readLeafProof(state.db, chain, 4n, 0n, cache);
    for (const stackId of [2n, 3n, 4n]) await forgetLeaves(stackId);
    // Stack 3 (4 leaves) pushed stack 2 out; stack 4 (7 leaves) is over the bound and was never kept.
    await expect(readLeafProof(state.db, chain, 3n, 1n, cache)).resolves.toMatchObject({ leaf_index: "1" });
    await expect(readLeafProof(state.db, chain, 2n, 1n, cache)).rejects.toThrow();
    await expect(readLeafProof(state.db, chain, 4n, 1n, cache)).rejects.toThrow();
  });
});
