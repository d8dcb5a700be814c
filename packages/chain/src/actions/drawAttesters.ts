import { settlementDrawAbi, settlementManagerAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs, type TransactionReceipt } from "viem";
import { EventNotFoundError } from "../errors.js";
import { readArmedAttesterDraw } from "./armedDraws.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/** `SettlementManager.FAIL_UNVERIFIABLE`: no attester could be drawn, so the work is not paid. */
export const FAIL_UNVERIFIABLE = 5;

/** What an attester draw did. */
export type AttesterDrawOutcome =
  /** The settlement is checked: these attesters, these request indices. */
  | { outcome: "sampled"; attesters: bigint[]; requestIndices: bigint[]; commitDeadline: bigint }
  /** Not sampled: accepted, the owner's challenge window ends at `windowEnds`. */
  | { outcome: "accepted"; windowEnds: bigint }
  /** Replacements for attesters that timed out. */
  | { outcome: "replaced"; attesters: bigint[]; commitDeadline: bigint }
  /** No replacement could be drawn: the committed attesters' commitments are revealed against. */
  | { outcome: "revealing"; revealDeadline: bigint }
  /** No attester could be drawn at all: the work is not paid, the owner is refunded, nobody is slashed. */
  | { outcome: "unverifiable"; refunded: bigint }
  /** The armed block's hash was gone: re-armed on this block (a first draw is now sampled for certain). */
  | { outcome: "rearmed"; armedAt: bigint; certain: boolean }
  /**
   * Private selection: the window of `round` (0: the first draw; 1 or more: a replacement round) opened on `seed`;
   * candidates select themselves until `endsAt`.
   */
  | {
      outcome: "selectionOpened";
      round: number;
      seed: Hex;
      endsAt: bigint;
      numerator: bigint;
      denominator: bigint;
    }
  /** Private selection found nobody on a settlement that must be checked: a public draw is armed on this block. */
  | { outcome: "fallback"; armedAt: bigint };

export type DrawAttestersResult = TxInfo & AttesterDrawOutcome;

/** Reads what a transaction did to a settlement's attester draw, from its receipt. */
export function attesterDrawOutcome(
  receipt: TransactionReceipt,
  stackId: bigint,
): AttesterDrawOutcome | undefined {
  const { logs } = receipt;
  const [rearmed] = parseEventLogs({ abi: settlementDrawAbi, logs, eventName: "AttesterDrawRearmed" }).filter(
    (e) => e.args.stackId === stackId,
  );
  if (rearmed) return { outcome: "rearmed", armedAt: rearmed.args.armedAt, certain: rearmed.args.certain };
  const [opened] = parseEventLogs({ abi: settlementDrawAbi, logs, eventName: "SelectionOpened" }).filter(
    (e) => e.args.stackId === stackId,
  );
  if (opened) {
    const { seed, endsAt, numerator, denominator } = opened.args;
    return { outcome: "selectionOpened", round: 0, seed, endsAt, numerator, denominator };
  }
  const [replacement] = parseEventLogs({
    abi: settlementDrawAbi,
    logs,
    eventName: "ReplacementSelectionOpened",
  }).filter((e) => e.args.stackId === stackId);
  if (replacement) {
    const { round, seed, endsAt, numerator, denominator } = replacement.args;
    return { outcome: "selectionOpened", round, seed, endsAt, numerator, denominator };
  }
  const [fallback] = parseEventLogs({ abi: settlementDrawAbi, logs, eventName: "SelectionFallback" }).filter(
    (e) => e.args.stackId === stackId,
  );
  if (fallback) return { outcome: "fallback", armedAt: fallback.args.armedAt };
  const replaced: bigint[] = [];
  let commitDeadline = 0n;
  for (const event of parseEventLogs({ abi: settlementManagerAbi, logs })) {
    if (!("stackId" in event.args) || event.args.stackId !== stackId) continue;
    switch (event.eventName) {
      case "AttestersSampled":
        return {
          outcome: "sampled",
          attesters: [...event.args.attesters],
          requestIndices: [...event.args.requestIndices],
          commitDeadline: event.args.commitDeadline,
        };
      case "AttesterReplaced":
        replaced.push(event.args.nodeId);
        commitDeadline = event.args.commitDeadline;
        break;
      case "SettlementAccepted":
        return { outcome: "accepted", windowEnds: event.args.windowEnds };
      case "RevealOpened":
        return { outcome: "revealing", revealDeadline: event.args.revealDeadline };
      case "SettlementFailed":
        if (event.args.reason === FAIL_UNVERIFIABLE)
          return { outcome: "unverifiable", refunded: event.args.refunded };
        break;
    }
  }
  return replaced.length > 0 ? { outcome: "replaced", attesters: replaced, commitDeadline } : undefined;
}

/**
 * Runs a settlement's armed attester draw (the first, or a replacement round), in a block after it was armed;
 * anyone may. `candidates` are those the settlement froze (read from `AttesterCandidatesFrozen` when not given).
 */
export async function drawAttesters(
  ctx: ChainContext,
  params: { stackId: bigint; candidates?: readonly bigint[] | undefined },
): Promise<DrawAttestersResult> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "drawAttesters",
    args: [params.stackId, [...candidates]],
    blockTag: "pending",
  });
  const outcome = attesterDrawOutcome(receipt, params.stackId);
  if (!outcome) throw new EventNotFoundError(`the draw of stack ${params.stackId} emitted no outcome`);
  return { ...txInfo(receipt), ...outcome };
}

/** The attester candidates a settlement froze, from its `AttesterCandidatesFrozen` event. */
export async function attesterCandidatesOf(ctx: ChainContext, stackId: bigint): Promise<bigint[]> {
  const { frozenAt } = await readArmedAttesterDraw(ctx, stackId);
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    eventName: "AttesterCandidatesFrozen",
    args: { stackId },
    fromBlock: frozenAt,
    toBlock: frozenAt,
  });
  const candidates = logs.find((log) => log.args.stackId === stackId)?.args.candidates;
  if (!candidates)
    throw new EventNotFoundError(
      `no AttesterCandidatesFrozen event for stack ${stackId} at block ${frozenAt}`,
    );
  return [...candidates];
}

/**
 * Draws until the draw is no longer re-armed (each call is its own transaction, so a later block). A private
 * selection window that opens is returned as is: it closes only after `endsAt`.
 */
export async function drawAttestersUntilDone(
  ctx: ChainContext,
  params: { stackId: bigint; candidates?: readonly bigint[] | undefined },
): Promise<DrawAttestersResult> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  for (;;) {
    const drawn = await drawAttesters(ctx, { stackId: params.stackId, candidates });
    if (drawn.outcome !== "rearmed") return drawn;
  }
}
