import {
  attestationResult,
  type ChainContext,
  commitAttestation,
  openAttestation,
  randomSalt,
  revealSettlement,
} from "@atoma/chain";
import { perActor } from "./concurrency.js";
import type { SampledEntries } from "./servedStack.js";
import type { SimNode } from "./simNetwork.js";

/** What a round's phases need: the nodes by id, and where their compute costs go. */
export interface RoundActors {
  node(nodeId: bigint): SimNode;
  spend(nodeId: bigint, amount: number): void;
  /** Compute cost of recomputing one request, TOMA. */
  costPerRequest: number;
}

/** A settlement the contract sampled: its attesters and the sampled entries (served and honest answers). */
export interface SampledStack {
  stackId: bigint;
  server: bigint;
  buyer: ChainContext;
  attesters: bigint[];
  /** The sampled request indices, in order. */
  indices: bigint[];
  entries: SampledEntries;
}

/** A settlement the reveal disputed; its committee is drawn later, from a block after this one. */
export interface OpenDispute {
  check: SampledStack;
  disputeId: bigint;
}

/**
 * Attesters commit what they recomputed, each with a secret salt (a cheater's attesters that are cheaters too
 * collude and copy its answers, paying no compute), then each server reveals its sampled leaves with their
 * stack-tree proofs, then the attesters open their commitments; the last opening has the contract accept or open
 * a dispute. One transaction at a time per node, all nodes at once.
 */
export async function attestAndReveal(
  actors: RoundActors,
  checks: readonly SampledStack[],
): Promise<OpenDispute[]> {
  const commits = checks.flatMap((check) =>
    check.attesters.map((attester) => {
      const colluding = actors.node(attester).cheater && actors.node(check.server).cheater;
      const sample = colluding ? check.entries.served : check.entries.honest;
      return { check, attester, colluding, sample, salt: randomSalt() };
    }),
  );
  await perActor(
    commits,
    (c) => c.attester,
    async ({ check, attester, colluding, sample, salt }) => {
      if (!colluding) actors.spend(attester, actors.costPerRequest * check.entries.sampled.length);
      await commitAttestation(actors.node(attester).ctx, {
        stackId: check.stackId,
        nodeId: attester,
        sample,
        salt,
      });
    },
  );
  await perActor(
    checks,
    (c) => c.server,
    (check) =>
      revealSettlement(actors.node(check.server).ctx, {
        stackId: check.stackId,
        sampled: check.entries.sampled,
        proofs: check.entries.proofs,
        last: check.entries.last,
        lastProof: check.entries.lastProof,
      }),
  );
  const opened = await perActor(
    commits,
    (c) => c.attester,
    async ({ check, attester, sample, salt }) => ({
      check,
      compared: (
        await openAttestation(actors.node(attester).ctx, {
          stackId: check.stackId,
          nodeId: attester,
          result: attestationResult(sample),
          salt,
        })
      ).compared,
    }),
  );
  return opened.flatMap(({ check, compared }) =>
    compared?.outcome === "disputed" ? [{ check, disputeId: compared.disputeId }] : [],
  );
}
