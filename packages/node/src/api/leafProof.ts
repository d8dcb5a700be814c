import { type Hash, InvalidInputError, type LeafProof, StackTree } from "@atoma/core";
import type { NodeDb } from "../db/openStateDatabase.js";
import { UnknownStackError } from "../errors.js";
import { LeafNotFoundError, StackNotSettledError } from "./errors.js";
import { SettledTreeCache } from "./settledTreeCache.js";

/** Where the node's settlements live on-chain, as a proof names them. */
export interface ProofChain {
  chainId: number;
  settlementManager: string | undefined;
}

const UINT = /^(0|[1-9]\d{0,77})$/;

/** A decimal path parameter as a bigint; `InvalidInputError` (400) otherwise. */
export function uintParam(value: string, name: string): bigint {
  if (!UINT.test(value)) throw new InvalidInputError(`${name} must be a decimal integer`);
  return BigInt(value);
}

/**
 * Leaf `leafIndex` of stack `stackId`, served by this node, with its inclusion proof under the root the node
 * posted on-chain: the same `StackTree` over the same leaves (those frozen for the settlement, in index order) as
 * `buildSettlement` (read once per settled stack when `cache` holds its tree). Throws `UnknownStackError` (this node does not hold the stack), `StackNotSettledError` (its
 * root is not on-chain yet) or `LeafNotFoundError`.
 */
export async function readLeafProof(
  db: NodeDb,
  chain: ProofChain,
  stackId: bigint,
  leafIndex: bigint,
  cache?: SettledTreeCache,
): Promise<LeafProof> {
  const stack = await db
    .selectFrom("stacks")
    .select("stack_id")
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  if (!stack) throw new UnknownStackError(stackId);
  const settlement = await db
    .selectFrom("settlements")
    .select(["leaf_count", "merkle_root", "settle_tx", "state"])
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  if (!settlement || settlement.merkle_root === null || settlement.settle_tx === null)
    throw new StackNotSettledError(stackId);
  if (leafIndex >= settlement.leaf_count)
    throw new LeafNotFoundError(stackId, leafIndex, settlement.leaf_count);
  const key = SettledTreeCache.key(stackId, settlement.merkle_root, settlement.leaf_count);
  let settled = cache?.get(key);
  if (!settled) {
    const rows = await db
      .selectFrom("leaves")
      .select(["leaf_index", "leaf_hash", "nonce", "req_hash", "resp_hash", "units", "cumulative_units"])
      .where("stack_id", "=", stackId)
      .where("leaf_index", "<", settlement.leaf_count)
      .orderBy("leaf_index")
      .execute();
    settled = { rows, tree: new StackTree(rows.map((row) => row.leaf_hash as Hash)) };
    cache?.set(key, settled);
  }
  const { rows, tree } = settled;
  const row = rows[Number(leafIndex)]!;
  return {
    object: "stack.leaf_proof",
    stack_id: stackId.toString(),
    leaf_index: leafIndex.toString(),
    leaf: {
      nonce: (row.nonce ?? row.leaf_index).toString(),
      request_hash: row.req_hash as Hash,
      response_hash: row.resp_hash as Hash,
      units: row.units.toString(),
      cumulative_units: row.cumulative_units.toString(),
    },
    leaf_hash: row.leaf_hash as Hash,
    leaf_count: settlement.leaf_count.toString(),
    root: tree.root,
    proof: tree.proof(Number(leafIndex)),
    settlement: {
      chain_id: chain.chainId,
      settlement_manager: chain.settlementManager ?? null,
      tx_hash: settlement.settle_tx as Hash,
    },
  };
}
