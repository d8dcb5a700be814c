import { disputeManagerAbi } from "@atoma/contracts";
import { claimOfOutputs, type Hash, UNAVAILABLE_CLAIM, voteWork } from "@atoma/core";
import { type Hex, hexToBytes } from "viem";
import { voteCommitment } from "../commitments.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { readCommittee } from "./disputeReads.js";
import { batchesWithin, readMaxEvidenceBytes } from "./evidenceBatches.js";
import { execute } from "./execute.js";

export interface VoteParams {
  disputeId: bigint;
  /** The committee member's node id. */
  nodeId: bigint;
  /** What the member computed: H(abi.encode(respHashes, units)) for a settlement dispute, the consensus root for a request, or
   * UNAVAILABLE_CLAIM when it could not obtain or replay the data. */
  claim: Hash;
  /** H(w_1 ‖ … ‖ w_s), w_i = H(nodeId ‖ output_i): the outputs behind the claim, bound to the member. */
  work: Hash;
  /** A secret the member keeps until it reveals. */
  salt: Hash;
}

/** What a member computed, ready to vote with: claim, work and the parts it shows later. */
export interface Ballot {
  claim: Hash;
  work: Hash;
  /** The outputs (hex bytes); empty for an abstention. */
  outputs: Hex[];
  /** The response hash of each output (settlement disputes); empty for consensus disputes. */
  respHashes: Hash[];
  /** The units each output carries (settlement disputes); empty for consensus disputes. */
  units: bigint[];
  /** H(nodeId ‖ output_i) for each output. */
  works: Hash[];
}

/** A ballot from outputs: `claim` is what they hash to (the attestation result or the consensus root). */
export function ballotOf(
  nodeId: bigint,
  claim: Hash,
  outputs: readonly Hex[],
  respHashes: readonly Hash[],
  units: readonly bigint[] = [],
): Ballot {
  const { work, parts } = voteWork(nodeId, outputs);
  return { claim, work, outputs: [...outputs], respHashes: [...respHashes], units: [...units], works: parts };
}

/** A settlement-dispute ballot: the claim is H(abi.encode(respHashes, units)) of the outputs and their usage. */
export function settlementBallotOf(nodeId: bigint, outputs: readonly Hex[]): Ballot {
  const { claim, respHashes, units } = claimOfOutputs(outputs);
  return ballotOf(nodeId, claim, outputs, respHashes, units);
}

/** The ballot of a member that could not obtain or replay the disputed data: an abstention. */
export function abstentionBallot(nodeId: bigint): Ballot {
  return ballotOf(nodeId, UNAVAILABLE_CLAIM, [], []);
}

/** Seals a committee member's vote. */
export async function commitDisputeVote(
  ctx: ChainContext,
  params: VoteParams,
): Promise<TxInfo & { commitment: Hash }> {
  const commitment = voteCommitment(params.disputeId, params.nodeId, params.claim, params.work, params.salt);
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "commitVote",
    args: [params.disputeId, params.nodeId, commitment],
  });
  return { ...txInfo(receipt), commitment };
}

/** Opens a sealed vote, once every member committed or the commit deadline passed. */
export async function revealDisputeVote(ctx: ChainContext, params: VoteParams): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "revealVote",
    args: [params.disputeId, params.nodeId, params.claim, params.work, params.salt],
  });
  return txInfo(receipt);
}

/**
 * Shows a revealed member's outputs, resuming after those already shown, in as many transactions as the
 * contract's `maxEvidenceBytes` bound asks. Returns the transactions sent (none when all were shown).
 */
export async function showDisputeVote(
  ctx: ChainContext,
  params: { disputeId: bigint; nodeId: bigint; ballot: Ballot },
): Promise<TxInfo[]> {
  const { disputeId, nodeId, ballot } = params;
  const committee = await readCommittee(ctx, disputeId);
  const member = committee.find((m) => m.nodeId === nodeId);
  if (!member || member.substantiated) return [];
  const maxBytes = await readMaxEvidenceBytes(ctx);
  const sizes = ballot.outputs.map((output) => hexToBytes(output).length);
  const sent: TxInfo[] = [];
  for (const [from, to] of batchesWithin(sizes, member.shown, maxBytes)) {
    const receipt = await execute(ctx, {
      address: ctx.addresses.DisputeManager,
      abi: disputeManagerAbi,
      functionName: "substantiate",
      args: [
        disputeId,
        nodeId,
        {
          from: BigInt(from),
          outputs: ballot.outputs.slice(from, to),
          respHashes: ballot.respHashes,
          units: ballot.units,
          works: ballot.works,
        },
      ],
    });
    sent.push(txInfo(receipt));
  }
  return sent;
}
