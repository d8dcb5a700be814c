import {
  attestationResult,
  commitDisputeVote,
  type ResolveDisputeResult,
  resolveDispute,
  revealDisputeVote,
} from "@atoma/chain";
import { keccak256, stringToBytes } from "viem";
import type { OpenDispute, RoundActors } from "./attestation.js";
import { perActor } from "./concurrency.js";

/**
 * Every committee member recomputes the disputed requests and votes the honest result (commit, then reveal);
 * the stack's buyer then resolves the dispute, which slashes the losers.
 */
export async function voteAndResolve(
  actors: RoundActors,
  disputes: readonly OpenDispute[],
): Promise<ResolveDisputeResult[]> {
  const votes = disputes.flatMap((d) =>
    d.committee.map((member) => ({
      member,
      params: {
        disputeId: d.disputeId,
        nodeId: member,
        result: attestationResult(d.check.entries.honest),
        salt: keccak256(stringToBytes(`salt ${d.disputeId} ${member}`)),
      },
      recomputed: d.check.entries.sampled.length,
    })),
  );
  await perActor(
    votes,
    (v) => v.member,
    async (v) => {
      actors.spend(v.member, actors.costPerRequest * v.recomputed);
      await commitDisputeVote(actors.node(v.member).ctx, v.params);
    },
  );
  await perActor(
    votes,
    (v) => v.member,
    (v) => revealDisputeVote(actors.node(v.member).ctx, v.params),
  );
  return Promise.all(disputes.map((d) => resolveDispute(d.check.buyer, { disputeId: d.disputeId })));
}
