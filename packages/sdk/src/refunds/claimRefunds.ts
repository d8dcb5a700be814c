import {
  attestationRegistryAbi,
  type ChainContext,
  ContractRevertError,
  getStack,
  refundUnposted,
} from "@atoma/chain/portable";
import type { Hex } from "viem";
import type { KeptStatement } from "./statementKeeper.js";

/**
 * What became of one statement's claim: `refunded` (now, or before: `already`), `recorded` (the settlement is
 * disputed: the chain took the claim, call again once it is finalized, however late), `not_yet` (the epoch is not over
 * or the settlement not final: call again later), `honest` (the node posted that evidence for that epoch: nothing sent),
 * or `refused` for good (`reason`: the chain's error, e.g. `StackNotServedUnder`, `StackNotPaid`, `RefundWindowClosed`).
 */
export interface RefundOutcome {
  statement: KeptStatement;
  outcome: "refunded" | "recorded" | "not_yet" | "honest" | "refused";
  already?: boolean | undefined;
  reason?: string | undefined;
  /** The claim's transaction, when one was sent. */
  tx?: Hex | undefined;
}

const NOT_YET = new Set(["EpochNotOver", "SettlementNotOver"]);

/**
 * Claims the refunds of a level-3 stack its owner (`ctx`'s account) bought, from the statements its node served and
 * the client kept (`StatementKeeper`): for each of the node's statements whose evidence the registry never took in its
 * epoch, `refundUnposted` (the owner is refunded whoever sends; at most what the stack paid, all statements
 * together). A statement the node honoured, or one the chain refuses at simulation, costs no gas. Call it again for
 * `not_yet` and `recorded` outcomes; a claim already paid says `refunded` with `already`.
 */
export async function claimRefunds(
  ctx: ChainContext,
  params: { stackId: bigint; statements: readonly KeptStatement[] },
): Promise<RefundOutcome[]> {
  const stack = await getStack(ctx, params.stackId);
  const registry = { address: ctx.addresses.AttestationRegistry, abi: attestationRegistryAbi } as const;
  const outcomes: RefundOutcome[] = [];
  for (const statement of params.statements) {
    if (statement.nodeId !== stack.nodeId) continue;
    const [posted, postedIn] = await ctx.publicClient.readContract({
      ...registry,
      functionName: "postings",
      args: [statement.nodeId, statement.evidenceHash],
    });
    if (posted && BigInt(postedIn) === statement.epoch) {
      outcomes.push({ statement, outcome: "honest" });
      continue;
    }
    let tx: Hex;
    try {
      tx = (await refundUnposted(ctx, { ...statement, stackId: params.stackId })).hash;
    } catch (error) {
      if (!(error instanceof ContractRevertError)) throw error;
      const reason = error.errorName ?? "unknown";
      if (NOT_YET.has(reason)) outcomes.push({ statement, outcome: "not_yet", reason });
      else if (reason === "StackRefunded") outcomes.push({ statement, outcome: "refunded", already: true });
      else outcomes.push({ statement, outcome: "refused", reason });
      continue;
    }
    const digest = await ctx.publicClient.readContract({
      ...registry,
      functionName: "servedEvidenceDigest",
      args: [statement.nodeId, statement.epoch, statement.evidenceHash],
    });
    const refunded = await ctx.publicClient.readContract({
      ...registry,
      functionName: "refunded",
      args: [digest, params.stackId],
    });
    outcomes.push({ statement, outcome: refunded ? "refunded" : "recorded", tx });
  }
  return outcomes;
}
