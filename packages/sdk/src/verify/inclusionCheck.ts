import {
  type Hash,
  type LeafProof,
  leafHash,
  leafOf,
  type SignedResponseFields,
  stackRootOf,
} from "@atoma/core";
import type { Check, CheckedProof } from "./verdict.js";

/** The root and leaf count a settlement posted on-chain. */
export interface SettledRoot {
  root: Hash;
  requestCount: bigint;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Whether `proof` shows the receipt's leaf under the root on-chain. The leaf is rebuilt from the signed fields
 * (never taken from the proof), the root and leaf count are the chain's (never the node's), so a node can neither
 * prove another leaf nor a root it did not post.
 */
export function inclusionCheck(fields: SignedResponseFields, proof: LeafProof, settled: SettledRoot): Check {
  const name = "inclusion";
  const leaf = leafHash(leafOf(fields));
  if (BigInt(proof.stack_id) !== fields.stackId || BigInt(proof.leaf_index) !== fields.leafIndex)
    return {
      name,
      status: "fail",
      code: "proof_leaf_mismatch",
      reason: `the node's proof is for stack ${proof.stack_id} leaf ${proof.leaf_index}, not ${fields.stackId} leaf ${fields.leafIndex}`,
    };
  const wrong = wrongLeafField(fields, proof);
  if (wrong !== undefined)
    return {
      name,
      status: "fail",
      code: "proof_leaf_mismatch",
      reason: `the node's proof says leaf.${wrong} differs from what it signed in this receipt`,
    };
  if (!same(proof.leaf_hash, leaf))
    return {
      name,
      status: "fail",
      code: "proof_leaf_mismatch",
      reason: `the node's leaf ${fields.leafIndex} is not the one it signed in this receipt`,
    };
  if (!same(proof.root, settled.root) || BigInt(proof.leaf_count) !== settled.requestCount)
    return {
      name,
      status: "fail",
      code: "root_mismatch",
      reason: "the node's proof is under a root or leaf count that is not the one settled on-chain",
    };
  const reached = stackRootOf(leaf, Number(fields.leafIndex), Number(settled.requestCount), proof.proof);
  if (reached === undefined || !same(reached, settled.root))
    return {
      name,
      status: "fail",
      code: "proof_invalid",
      reason: "the proof does not lead from the leaf to the root on-chain",
    };
  return {
    name,
    status: "pass",
    reason: `leaf ${fields.leafIndex} of ${settled.requestCount} is under the settled root ${settled.root}`,
  };
}

/** The proof's leaf as the receipt signed it: a node cannot show other units or hashes beside a valid proof. */
function leafFieldsOf(fields: SignedResponseFields): CheckedProof["leaf"] {
  return {
    nonce: fields.nonce.toString(),
    request_hash: fields.reqHash,
    response_hash: fields.respHash,
    units: fields.units.toString(),
    cumulative_units: fields.cumulativeUnits.toString(),
  };
}

function wrongLeafField(fields: SignedResponseFields, proof: LeafProof): string | undefined {
  const signed = leafFieldsOf(fields);
  return (Object.keys(signed) as (keyof typeof signed)[]).find((key) => {
    const sent = proof.leaf[key];
    return key.endsWith("_hash") ? !same(sent, signed[key]) : BigInt(sent) !== BigInt(signed[key]);
  });
}

/**
 * The proof as `inclusionCheck` checked it, built from checked values only: the receipt's leaf, the chain's root and
 * leaf count, the siblings (they led from the one to the other), and the chain and SettlementManager read. Call it
 * only once `inclusionCheck` passed.
 */
export function checkedProof(
  fields: SignedResponseFields,
  proof: LeafProof,
  settled: SettledRoot,
  chain: { chainId: number; settlementManager: string },
): CheckedProof {
  return {
    stack_id: fields.stackId.toString(),
    leaf_index: fields.leafIndex.toString(),
    leaf: leafFieldsOf(fields),
    leaf_hash: leafHash(leafOf(fields)),
    leaf_count: settled.requestCount.toString(),
    root: settled.root,
    proof: [...proof.proof],
    settlement: { chain_id: chain.chainId, settlement_manager: chain.settlementManager },
  };
}
