import type { Hash, RecomputedSample } from "@atoma/core";
import type { Hex } from "viem";
import type { NodeSeat } from "../service/nodeSeat.js";

/** What a strategy knows about one duty, and the honest work it may (or may not) do. */
export interface DutyInput {
  stackId: bigint;
  /** This node's id. */
  nodeId: bigint;
  indices: readonly bigint[];
  /** Regenerates the sampled requests with this node's engine: their response hashes and units, in order. */
  recompute(): Promise<RecomputedSample>;
  chain: NodeSeat;
}

export interface VoteInput {
  stackId: bigint;
  nodeId: bigint;
  disputeId: bigint;
  chain: NodeSeat;
  /**
   * Regenerates the disputed requests (as the server posted them on chain) within the time the commit deadline
   * leaves, and returns each response's bytes (those its response hash is the hash of), in order.
   */
  recompute(): Promise<Hex[]>;
}

/** What was recomputed, to commit to (the commitment is built from it), or a ready commitment; undefined: not now. */
export type AttestDecision = { sample: RecomputedSample } | { commitment: Hash } | undefined;

/**
 * What a committee member votes: the outputs it computed (its claim and work are derived from them, and it shows
 * them after the reveal), an abstention when it could not replay the data, or — only for the dishonest strategies
 * tests run — a bare claim and work with nothing to show. Undefined: not now.
 */
export type VoteDecision =
  | { outputs: readonly Hex[] }
  | { unavailable: true }
  | { claim: Hash; work: Hash }
  | undefined;

/**
 * How the worker decides what to commit. Production nodes always use `honestStrategy`; other strategies exist so
 * tests can run dishonest attesters through the real worker. It is a component of `attestationPart`, never a
 * configuration option.
 */
export interface CommitStrategy {
  attest(input: DutyInput): Promise<AttestDecision>;
  vote(input: VoteInput): Promise<VoteDecision>;
}
