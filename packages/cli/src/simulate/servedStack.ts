import { type Hash, LeafTree, leafHash } from "@atoma/core";
import { type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import type { SeededRandom } from "./random.js";

/**
 * What a node served for one stack, reduced to what settlement sees: each request's hash, the response hash it
 * signed for, and the response hash the honest model gives (what attesters and committees recompute). A cheater
 * answers a share of the requests with a cheaper model: those response hashes differ from the honest ones.
 */
export interface ServedStack {
  reqHashes: Hash[];
  served: Hash[];
  honest: Hash[];
  falsified: number;
  tree: LeafTree;
}

export function serveStack(
  stackId: bigint,
  requests: number,
  cheatShare: number,
  random: SeededRandom | undefined,
): ServedStack {
  const reqHashes: Hash[] = [];
  const served: Hash[] = [];
  const honest: Hash[] = [];
  let falsified = 0;
  for (let k = 0; k < requests; k++) {
    const reqHash = keccak256(requestBodyOf(stackId, k));
    const truth = keccak256(honestOutputOf(reqHash));
    const cheap = random?.chance(cheatShare) === true;
    if (cheap) falsified++;
    reqHashes.push(reqHash);
    honest.push(truth);
    served.push(cheap ? keccak256(stringToBytes(`cheaper model: answer to ${reqHash}`)) : truth);
  }
  const tree = new LeafTree(reqHashes.map((r, k) => leafHash(r, served[k]!)));
  return { reqHashes, served, honest, falsified, tree };
}

/** The body of request k of a stack (its hash is the request hash): what the server posts in a dispute. */
export function requestBodyOf(stackId: bigint, k: number): Hex {
  return stringToHex(`request ${k} of stack ${stackId}`);
}

/** The honest model's answer to a request: the bytes its honest response hash is the hash of. */
export function honestOutputOf(reqHash: Hash): Hex {
  return stringToHex(`honest model: answer to ${reqHash}`);
}

/** The entries at the sampled indices, in their order, with their Merkle proofs. */
export function sampledEntries(stack: ServedStack, indices: readonly bigint[]) {
  const at = indices.map(Number);
  return {
    reqHashes: at.map((k) => stack.reqHashes[k]!),
    respHashes: at.map((k) => stack.served[k]!),
    honest: at.map((k) => stack.honest[k]!),
    proofs: at.map((k) => stack.tree.proof(k)),
  };
}
