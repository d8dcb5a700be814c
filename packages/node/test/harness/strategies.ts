import { attestationResult, getAttesters, readDispute } from "@atoma/chain";
import type { RecomputedSample } from "@atoma/core";
import { encodeAbiParameters, keccak256, stringToBytes } from "viem";
import type { CommitStrategy } from "../../src/attestation/commitStrategy.js";
import { honestStrategy } from "../../src/attestation/honestStrategy.js";

/** Never answers: neither commits as an attester nor votes on a committee. */
export const silentStrategy: CommitStrategy = {
  attest: async () => undefined,
  vote: async () => undefined,
};

/**
 * Does no work: waits for another attester's commitment and submits it as its own. Commitments bind the
 * attester's node id and a salt only the other holds, so the copy can never be opened: the copier is timed out.
 */
export const lazyCopierStrategy: CommitStrategy = {
  async attest({ stackId, nodeId, chain }) {
    const attesters = await getAttesters(chain, stackId);
    const other = attesters.find((a) => a.nodeId !== nodeId && a.committed && !a.removed);
    return other ? { commitment: other.commitment } : undefined;
  },
  vote: honestStrategy.vote,
};

/**
 * Does no work either, but peeks: it knows the server's claimed result (anyone holding the transcript can compute
 * it from the leaves' response hashes and units; `claims` stands in for that), waits for another attester's
 * commitment and tests it against H(otherNodeId, claim), the unsalted commitment. Only when the other agreed does
 * it commit agreement itself, risk-free. With salted commitments the test never matches, so it never learns
 * anything and never commits.
 */
export function peekingStrategy(claims: Map<bigint, RecomputedSample>): CommitStrategy {
  return {
    async attest({ stackId, nodeId, chain }) {
      const claim = claims.get(stackId);
      if (!claim) return undefined;
      const result = attestationResult(claim);
      const attesters = await getAttesters(chain, stackId);
      for (const other of attesters) {
        if (other.nodeId === nodeId || !other.committed) continue;
        const unsalted = keccak256(
          encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [other.nodeId, result]),
        );
        if (other.commitment === unsalted) return { sample: claim };
      }
      return undefined;
    },
    vote: honestStrategy.vote,
  };
}

/** Dissents without computing: commits a result no reveal can match (a griefing or broken attester). */
export const dissentingStrategy: CommitStrategy = {
  attest: async ({ nodeId }) => ({ commitment: keccak256(stringToBytes(`dissent of ${nodeId}`)) }),
  vote: honestStrategy.vote,
};

/**
 * A lazy committee member siding with the serving node: it votes for the claim the server revealed (public on
 * chain) without computing anything, so it has no outputs to show and work it made up.
 */
export const colludingStrategy: CommitStrategy = {
  attest: honestStrategy.attest,
  async vote({ disputeId, nodeId, chain }) {
    const claim = (await readDispute(chain, disputeId)).serverResult;
    return { claim, work: keccak256(stringToBytes(`no work by ${nodeId}`)) };
  },
};

/**
 * Lets a test pick each node's behaviour once it knows who was drawn: while closed, every node waits; once open,
 * each node acts by the strategy assigned to it (honest when none). It notes every node whose engine recomputed a
 * stack's sample or a dispute's requests (after the recompute returned): what a server probing the nodes' engines
 * could see.
 */
export class StrategyBoard {
  open = true;
  private readonly assigned = new Map<bigint, CommitStrategy>();
  private readonly samples = new Map<bigint, Set<bigint>>();
  private readonly disputes = new Map<bigint, Set<bigint>>();

  assign(nodeId: bigint, strategy: CommitStrategy): void {
    this.assigned.set(nodeId, strategy);
  }

  reset(): void {
    this.assigned.clear();
    this.open = true;
  }

  /** The nodes whose engines recomputed the sample of `stackId` as attester candidates. */
  recomputedSample(stackId: bigint): bigint[] {
    return [...(this.samples.get(stackId) ?? [])];
  }

  /** The nodes whose engines recomputed the requests of dispute `disputeId` as committee candidates. */
  recomputedDispute(disputeId: bigint): bigint[] {
    return [...(this.disputes.get(disputeId) ?? [])];
  }

  strategyFor(nodeId: bigint): CommitStrategy {
    const pick = () => this.assigned.get(nodeId) ?? honestStrategy;
    const noted =
      <T>(seen: Map<bigint, Set<bigint>>, id: bigint, recompute: () => Promise<T>) =>
      async () => {
        const out = await recompute();
        seen.set(id, (seen.get(id) ?? new Set<bigint>()).add(nodeId));
        return out;
      };
    return {
      attest: async (input) =>
        this.open
          ? pick().attest({ ...input, recompute: noted(this.samples, input.stackId, input.recompute) })
          : undefined,
      vote: async (input) =>
        this.open
          ? pick().vote({ ...input, recompute: noted(this.disputes, input.disputeId, input.recompute) })
          : undefined,
    };
  }
}

/**
 * Votes honestly and notes, per dispute, every node whose engine recomputed the disputed requests (after the
 * recompute returned): what a server probing the nodes' engines during a selection window could see.
 */
export function recomputeRecorder(): {
  strategy: CommitStrategy;
  recomputed: (disputeId: bigint) => bigint[];
} {
  const seen = new Map<bigint, Set<bigint>>();
  return {
    strategy: {
      attest: honestStrategy.attest,
      vote: (input) =>
        honestStrategy.vote({
          ...input,
          recompute: async () => {
            const outputs = await input.recompute();
            const nodes = seen.get(input.disputeId) ?? new Set<bigint>();
            seen.set(input.disputeId, nodes.add(input.nodeId));
            return outputs;
          },
        }),
    },
    recomputed: (disputeId) => [...(seen.get(disputeId) ?? [])],
  };
}
