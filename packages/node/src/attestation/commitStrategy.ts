import type { Hash, RecomputedSample } from "@atoma/core";
import type { AttestationChain } from "./attestationChain.js";

/** What a strategy knows about one duty, and the honest work it may (or may not) do. */
export interface DutyInput {
  stackId: bigint;
  /** This node's id. */
  nodeId: bigint;
  indices: readonly bigint[];
  /** Regenerates the sampled requests with this node's engine: their response hashes and units, in order. */
  recompute(): Promise<RecomputedSample>;
  chain: AttestationChain;
}

export interface VoteInput extends DutyInput {
  disputeId: bigint;
}

/** What was recomputed, to commit to (the commitment is built from it), or a ready commitment; undefined: not now. */
export type AttestDecision = { sample: RecomputedSample } | { commitment: Hash } | undefined;

/**
 * How the worker decides what to commit. Production nodes always use `honestStrategy`; other strategies exist so
 * tests can run dishonest attesters through the real worker. It is a component of `attestationPart`, never a
 * configuration option.
 */
export interface CommitStrategy {
  attest(input: DutyInput): Promise<AttestDecision>;
  /** The result to vote for (`attestationResult` of the recomputed sample for a settlement dispute); undefined: not now. */
  vote(input: VoteInput): Promise<Hash | undefined>;
}
