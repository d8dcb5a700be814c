import {
  type Ballot,
  commitDisputeVote,
  revealDisputeVote,
  showDisputeVote,
  type TxInfo,
  type VoteParams,
  voteCommitment,
} from "@atoma/chain";
import type { Hash } from "@atoma/core";
import type { CommitteeVoter } from "./committeeVoter.js";
import { saltOfVote } from "./voteSalt.js";

/**
 * A committee member's vote in a dispute, whatever was recomputed to make it: the ballot (claim, work and the
 * outputs it shows), stored before it is committed so that a restarted node reveals and shows the same.
 */
export interface CommitteeVote {
  disputeId: bigint;
  nodeId: bigint;
  ballot: Ballot;
  /** A random salt the row holds from before salts were derived from the key (see `saltOfVote`). */
  storedSalt?: Hash | undefined;
}

/** Seals the vote: H(disputeId ‖ nodeId ‖ claim ‖ work ‖ salt) (docs/soundness.md, item 8). */
export async function commitVote(
  voter: CommitteeVoter,
  vote: CommitteeVote,
): Promise<TxInfo & { commitment: Hash }> {
  return commitDisputeVote(voter.seat, await voteParams(voter, vote));
}

/**
 * The sealed vote without sending it: what a privately self-selected member hands `DisputeSelection.selfSelect`
 * with its VRF proof (the manager seats it already committed).
 */
export async function sealVote(voter: CommitteeVoter, vote: CommitteeVote): Promise<Hash> {
  const p = await voteParams(voter, vote);
  return voteCommitment(p.disputeId, p.nodeId, p.claim, p.work, p.salt);
}

/**
 * Opens the sealed vote with the same claim, work and salt; the contract allows it once every member committed or
 * the commit deadline passed.
 */
export async function revealVote(voter: CommitteeVoter, vote: CommitteeVote): Promise<TxInfo> {
  return revealDisputeVote(voter.seat, await voteParams(voter, vote));
}

/** Shows the outputs behind a revealed claim, resuming after those already shown (none for an abstention). */
export function showVote(voter: CommitteeVoter, vote: CommitteeVote): Promise<TxInfo[]> {
  return showDisputeVote(voter.seat, { disputeId: vote.disputeId, nodeId: vote.nodeId, ballot: vote.ballot });
}

async function voteParams(voter: CommitteeVoter, vote: CommitteeVote): Promise<VoteParams> {
  const { claim, work } = vote.ballot;
  return { disputeId: vote.disputeId, nodeId: vote.nodeId, claim, work, salt: await saltOfVote(voter, vote) };
}
