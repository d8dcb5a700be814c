import { encodeAbiParameters, type Hex, hexToBigInt, keccak256 } from "viem";
import { SortitionParametersError } from "./errors.js";

/**
 * Per-settlement sortition: every one of `eligible` nodes selects itself independently with `probability`,
 * so the number of attesters K is Binomial(eligible, probability) with mean `expected`.
 */
export interface Sortition {
  eligible: number;
  /** numerator / denominator, exactly: a node is selected when β·denominator < numerator·2^256. */
  numerator: bigint;
  denominator: bigint;
  probability: number;
  expected: number;
}

function checkEligible(eligible: number): void {
  if (!Number.isInteger(eligible) || eligible < 1)
    throw new SortitionParametersError(`the eligible node count must be a positive integer, got ${eligible}`);
}

function sortition(eligible: number, numerator: bigint, denominator: bigint): Sortition {
  const expected = (Number(numerator) * eligible) / Number(denominator);
  if (!(expected > 0) || numerator > denominator)
    throw new SortitionParametersError(`the expected selection ${expected} must lie in (0, ${eligible}]`);
  return { eligible, numerator, denominator, probability: Number(numerator) / Number(denominator), expected };
}

/**
 * Attesters of an ordinary settlement: the task samples at `rate` (§2.7's p) with `attesters` per sampled
 * settlement (§2.7's N), so each node selects itself with p·N/n and the expected attester count is p·N. The rate
 * is a whole number of parts per million, as tasks store it (`replicationPpm`).
 */
export function attesterSortition(eligible: number, rate: number, attesters: number): Sortition {
  checkEligible(eligible);
  if (!(rate > 0 && rate <= 1))
    throw new SortitionParametersError(`the sampling rate must lie in (0, 1], got ${rate}`);
  if (!Number.isInteger(attesters) || attesters < 1)
    throw new SortitionParametersError(`the attester count must be a positive integer, got ${attesters}`);
  const ppm = Math.round(rate * 1e6);
  if (Math.abs(ppm - rate * 1e6) > 1e-6)
    throw new SortitionParametersError(
      `the sampling rate must be a whole number of parts per million, got ${rate}`,
    );
  return sortition(eligible, BigInt(ppm * attesters), 1_000_000n * BigInt(eligible));
}

/** A dispute committee (or the attesters of a settlement already known to need checking): mean `size`. */
export function committeeSortition(eligible: number, size: number): Sortition {
  checkEligible(eligible);
  if (!Number.isInteger(size) || size < 1)
    throw new SortitionParametersError(`the committee size must be a positive integer, got ${size}`);
  return sortition(eligible, BigInt(size), BigInt(eligible));
}

/**
 * Whether a node whose VRF output is `beta` is selected: β < 2^256·numerator/denominator, tested without division
 * as ⌊β·denominator / 2^256⌋ < numerator (contracts/src/vrf/VrfSortition.sol does the same).
 */
export function isSelected(beta: Hex, draw: Pick<Sortition, "numerator" | "denominator">): boolean {
  return (hexToBigInt(beta) * draw.denominator) >> 256n < draw.numerator;
}

/** The selection probability: ⌈2^256·q⌉ / 2^256 differs from q by under 2^-256, far below a double's precision. */
function exactProbability(draw: Sortition): number {
  return draw.probability;
}

/** P(K = 0) = (1 − q)^n, computed as exp(n·log1p(−q)) so that small q keeps its precision. */
export function noSelectionProbability(draw: Sortition): number {
  const q = exactProbability(draw);
  return q >= 1 ? 0 : Math.exp(draw.eligible * Math.log1p(-q));
}

/** The bound stated in docs/vrf.md: (1 − q)^n ≤ e^(−n·q) = e^(−expected), whatever n is. */
export function noSelectionBound(draw: Sortition): number {
  return Math.exp(-draw.eligible * exactProbability(draw));
}

/** P(K = k) for K ~ Binomial(n, q), in log space. */
export function selectionCountProbability(draw: Sortition, k: number): number {
  const n = draw.eligible;
  const q = exactProbability(draw);
  if (k < 0 || k > n) return 0;
  if (q >= 1) return k === n ? 1 : 0;
  let logChoose = 0;
  for (let i = 1; i <= k; ++i) logChoose += Math.log(n - k + i) - Math.log(i);
  return Math.exp(logChoose + k * Math.log(q) + (n - k) * Math.log1p(-q));
}

/**
 * The smallest cap c with P(K > c) ≤ epsilon: the committee's size bound. A dispute takes at most c votes (the
 * first c revealed), so the majority rule counts over a bounded set; the chance that more select themselves is
 * at most epsilon.
 */
export function committeeSizeCap(draw: Sortition, epsilon: number): number {
  if (!(epsilon > 0 && epsilon < 1))
    throw new SortitionParametersError(`epsilon must lie in (0, 1), got ${epsilon}`);
  let tail = 1;
  for (let c = 0; c <= draw.eligible; ++c) {
    tail -= selectionCountProbability(draw, c);
    if (tail <= epsilon) return c;
  }
  return draw.eligible;
}

/**
 * The VRF input of a settlement: H(settlement id, hash of a block mined after the settlement was submitted).
 * Neither the server (when it submitted) nor a node (before that block) can know it.
 */
export function sortitionSeed(
  settlementId: Hex,
  laterBlockHash: Hex,
  purpose: "attest" | "dispute" | "replace",
): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "string" }, { type: "bytes32" }, { type: "bytes32" }],
      [`atoma.vrf.${purpose}`, settlementId, laterBlockHash],
    ),
  );
}

/** Where a VRF key is registered: the chain and the `VrfKeyRegistry` (a possession proof is good there only). */
export interface VrfRegistryDomain {
  chainId: bigint | number;
  registry: Hex;
}

/**
 * The registry address and chain of the shared vectors: forge deploys its `VrfKeyRegistry` there
 * (`deployCodeTo`), so the vectors' possession proofs register in the contract tests.
 */
export const VECTOR_VRF_REGISTRY: VrfRegistryDomain = {
  chainId: 31337n,
  registry: "0x00000000000000000000000000000000000a7011",
};

/**
 * The input a node proves when it registers its VRF key (VrfKeyRegistry.possessionInput): binds key and node id
 * to one chain and one registry, so a possession proof cannot be replayed on another deployment.
 */
export function vrfPossessionInput(nodeId: bigint, domain: VrfRegistryDomain): Hex {
  return encodeAbiParameters(
    [{ type: "string" }, { type: "uint256" }, { type: "address" }, { type: "uint256" }],
    ["atoma.vrf.key", BigInt(domain.chainId), domain.registry, nodeId],
  );
}
