import {
  advanceDispute,
  commitDisputeVote,
  DisputeStatus,
  drawCommittee,
  postDisputeEvidence,
  type ResolveDisputeResult,
  readDispute,
  resolveDispute,
  revealDisputeVote,
  settlementBallotOf,
  showDisputeVote,
} from "@atoma/chain";
import { atomaDomain, signRequest } from "@atoma/core";
import { keccak256, type LocalAccount, stringToBytes } from "viem";
import type { OpenDispute, RoundActors } from "./attestation.js";
import { perActor } from "./concurrency.js";
import { requestBodyOf } from "./servedStack.js";
import type { SimNetwork } from "./simNetwork.js";

/** Request deadline the buyers sign (far in the future: the simulation never lets requests expire). */
const REQUEST_DEADLINE = 2_000_000_000n;
const REQUEST_MAX_UNITS = 1_000_000n;
/** Draw rounds tried before giving up on a dispute no committee can be drawn for (the contract ends it). */
const MAX_DRAW_STEPS = 16;

/**
 * The dispute phase of a round: each server posts the disputed owner-signed requests on chain (withholding them
 * would lose the dispute outright), the buyer draws the committee from a later block, every member recomputes the
 * disputed requests, commits to its claim and work, reveals and shows its outputs; the buyer then resolves the
 * dispute, which slashes the losers. A dispute no committee can be drawn for ends without one (the server is not
 * paid, nobody is slashed).
 */
export async function voteAndResolve(
  actors: RoundActors,
  network: SimNetwork,
  disputes: readonly OpenDispute[],
): Promise<{ resolved: ResolveDisputeResult[]; transactions: number }> {
  let transactions = 0;
  const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
  await perActor(
    disputes,
    (d) => d.check.server,
    async (d) => {
      const { check } = d;
      const buyer = check.buyer.walletClient.account as LocalAccount;
      const requests = await Promise.all(
        check.indices.map(async (k, i) => ({
          body: requestBodyOf(check.stackId, Number(k)),
          nonce: k,
          deadline: REQUEST_DEADLINE,
          maxUnits: REQUEST_MAX_UNITS,
          signature: await signRequest(buyer, domain, {
            stackId: check.stackId,
            reqHash: check.entries.reqHashes[i]!,
            nonce: k,
            deadline: REQUEST_DEADLINE,
            maxUnits: REQUEST_MAX_UNITS,
          }),
        })),
      );
      const sent = await postDisputeEvidence(actors.node(check.server).ctx, {
        disputeId: d.disputeId,
        requests,
        reqHashes: check.entries.reqHashes,
      });
      transactions += sent.length;
    },
  );
  const drawn: { dispute: OpenDispute; committee: bigint[] }[] = [];
  for (const dispute of disputes) {
    const committee = await drawUntilDone(network, dispute);
    transactions += committee.transactions;
    if (committee.members.length > 0) drawn.push({ dispute, committee: committee.members });
  }
  const votes = drawn.flatMap(({ dispute, committee }) =>
    committee.map((member) => {
      const outputs = dispute.check.entries.honestOutputs;
      return {
        member,
        recomputed: outputs.length,
        params: {
          disputeId: dispute.disputeId,
          nodeId: member,
          ballot: settlementBallotOf(member, outputs),
          salt: keccak256(stringToBytes(`salt ${dispute.disputeId} ${member}`)),
        },
      };
    }),
  );
  const vote = (v: (typeof votes)[number]) => ({
    disputeId: v.params.disputeId,
    nodeId: v.member,
    claim: v.params.ballot.claim,
    work: v.params.ballot.work,
    salt: v.params.salt,
  });
  await perActor(
    votes,
    (v) => v.member,
    async (v) => {
      actors.spend(v.member, actors.costPerRequest * v.recomputed);
      await commitDisputeVote(actors.node(v.member).ctx, vote(v));
    },
  );
  await perActor(
    votes,
    (v) => v.member,
    async (v) => {
      await revealDisputeVote(actors.node(v.member).ctx, vote(v));
      transactions += 2 + (await showDisputeVote(actors.node(v.member).ctx, v.params)).length;
    },
  );
  const resolved = await Promise.all(
    drawn.map(({ dispute }) => resolveDispute(dispute.check.buyer, { disputeId: dispute.disputeId })),
  );
  return { resolved, transactions: transactions + resolved.length };
}

/**
 * Draws the dispute's committee as its buyer, mining the block that seeds it first and waiting out the redraw
 * delay when too few nodes are eligible; the members, or none when the dispute ended without a committee.
 */
async function drawUntilDone(
  network: SimNetwork,
  dispute: OpenDispute,
): Promise<{ members: bigint[]; transactions: number }> {
  const ctx = dispute.check.buyer;
  let transactions = 0;
  for (let step = 0; step < MAX_DRAW_STEPS; step++) {
    const state = await readDispute(ctx, dispute.disputeId);
    if (state.status !== DisputeStatus.Open) return { members: [], transactions };
    if (state.drawn) {
      const committee = await network.deployment.contracts.disputeManager.read.committeeOf([
        dispute.disputeId,
      ]);
      return { members: committee.map((m) => m.nodeId), transactions };
    }
    const now = (await ctx.publicClient.getBlock()).timestamp;
    if (state.drawBlock === 0n && now < state.drawNotBefore)
      await network.advance(Number(state.drawNotBefore - now));
    else {
      // The draw reads the hash of the block after its arming block: two blocks must be mined after the arming.
      await network.advance(0);
      await network.advance(0);
    }
    const result = await drawCommittee(ctx, { disputeId: dispute.disputeId });
    transactions += 1;
    if (result.outcome === "failed" && result.ended) return { members: [], transactions };
  }
  await advanceDispute(ctx, { disputeId: dispute.disputeId });
  return { members: [], transactions };
}
