import {
  canonicalJson,
  type Hash,
  leafHash,
  type RecomputedSample,
  type StackLeaf,
  StackTree,
} from "@atoma/core";
import { type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import type { SeededRandom } from "./random.js";

/**
 * What a node served for one stack, reduced to what settlement sees: each request's hash, the response hash and
 * units its leaf carries, and the response hash and units the honest model gives (what attesters and committees
 * recompute). A cheater answers a share of the requests with a cheaper model (those response hashes differ from
 * the honest ones), or bills more units than it served (its leaves carry them).
 */
export interface ServedStack {
  reqHashes: Hash[];
  served: Hash[];
  honest: Hash[];
  /** Units of each request as the node's leaves carry them, and as a replay counts them. */
  servedUnits: bigint[];
  honestUnits: bigint[];
  leaves: StackLeaf[];
  falsified: number;
  tree: StackTree;
}

/** `total` units spread over `count` requests, the last taking the remainder. */
function spread(total: bigint, count: number): bigint[] {
  const each = total / BigInt(count);
  return Array.from({ length: count }, (_, k) => (k === count - 1 ? total - each * BigInt(count - 1) : each));
}

export function serveStack(
  stackId: bigint,
  requests: number,
  cheatShare: number,
  random: SeededRandom | undefined,
  units: { used: bigint; billed: bigint },
): ServedStack {
  const reqHashes: Hash[] = [];
  const served: Hash[] = [];
  const honest: Hash[] = [];
  let falsified = 0;
  const honestUnits = spread(units.used, requests);
  for (let k = 0; k < requests; k++) {
    const reqHash = keccak256(requestBodyOf(stackId, k));
    const truth = keccak256(honestOutputOf(reqHash, honestUnits[k]!));
    const cheap = random?.chance(cheatShare) === true;
    if (cheap) falsified++;
    reqHashes.push(reqHash);
    honest.push(truth);
    served.push(cheap ? keccak256(stringToBytes(`cheaper model: answer to ${reqHash}`)) : truth);
  }
  const servedUnits = spread(units.billed, requests);
  let total = 0n;
  const leaves = reqHashes.map((reqHash, k): StackLeaf => {
    total += servedUnits[k]!;
    return {
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash,
      respHash: served[k]!,
      units: servedUnits[k]!,
      cumulativeUnits: total,
    };
  });
  const tree = new StackTree(leaves.map(leafHash));
  return { reqHashes, served, honest, servedUnits, honestUnits, leaves, falsified, tree };
}

/** The body of request k of a stack (its hash is the request hash): what the server posts in a dispute. */
export function requestBodyOf(stackId: bigint, k: number): Hex {
  return stringToHex(`request ${k} of stack ${stackId}`);
}

/**
 * The honest model's answer to a request using `units`: the bytes its honest response hash is the hash of, a
 * result whose usage carries the units (as a committee member shows it).
 */
export function honestOutputOf(reqHash: Hash, units: bigint): Hex {
  const usage = { prompt_tokens: Number(units), total_tokens: Number(units) };
  return stringToHex(canonicalJson({ answer: `honest model: answer to ${reqHash}`, usage }));
}

/** The leaves at the sampled indices (and the last), with their proofs, and what a replay of them gives. */
export function sampledEntries(stack: ServedStack, indices: readonly bigint[]) {
  const at = indices.map(Number);
  const last = stack.leaves.length - 1;
  const served: RecomputedSample = {
    respHashes: at.map((k) => stack.served[k]!),
    units: at.map((k) => stack.servedUnits[k]!),
  };
  const honest: RecomputedSample = {
    respHashes: at.map((k) => stack.honest[k]!),
    units: at.map((k) => stack.honestUnits[k]!),
  };
  return {
    reqHashes: at.map((k) => stack.reqHashes[k]!),
    /** The honest outputs a committee member shows. */
    honestOutputs: at.map((k) => honestOutputOf(stack.reqHashes[k]!, stack.honestUnits[k]!)),
    sampled: at.map((k) => stack.leaves[k]!),
    proofs: at.map((k) => stack.tree.proof(k)),
    last: stack.leaves[last]!,
    lastProof: stack.tree.proof(last),
    served,
    honest,
  };
}

export type SampledEntries = ReturnType<typeof sampledEntries>;
