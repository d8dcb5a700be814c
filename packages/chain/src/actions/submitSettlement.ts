import { settlementDrawAbi, settlementManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs, type TransactionReceipt } from "viem";
import { ContractRevertError, UnexpectedOutcomeError } from "../errors.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { type AttesterDrawOutcome, drawAttestersUntilDone } from "./drawAttesters.js";
import { execute } from "./execute.js";

export interface SubmitSettlementParams {
  stackId: bigint;
  /** Merkle root of the leaves, in request order. */
  root: Hash;
  /** Units used, at most those bought. */
  units: bigint;
  /** Requests served: the number of leaves. */
  requestCount: bigint;
  /** Blob id H(bytes) of the inputs transcript. */
  transcriptId: Hash;
}

export interface SubmitOptions {
  /**
   * Run the attester draw a verified settlement arms, in the next transaction (a later block). Off, the result
   * says `drawPending` and anyone may draw later. @default true
   */
  draw?: boolean | undefined;
  gas?: bigint | undefined;
}

/** Where a submitted settlement stands once its first attester draw (if any) has run. */
export type SettlementOutcome =
  | { sampled: false; outcome: "accepted"; windowEnds: bigint }
  | {
      sampled: true;
      outcome: "sampled";
      attesters: bigint[];
      requestIndices: bigint[];
      commitDeadline: bigint;
    }
  | { sampled: false; outcome: "unverifiable"; refunded: bigint }
  | { sampled: false; outcome: "drawPending"; candidates: bigint[] };

export type SubmitSettlementResult = TxInfo & SettlementOutcome;

/** The attester candidates a settlement froze in `receipt`, when it armed a draw. */
export function frozenCandidates(receipt: TransactionReceipt, stackId: bigint): bigint[] | undefined {
  const [frozen] = parseEventLogs({
    abi: settlementDrawAbi,
    logs: receipt.logs,
    eventName: "AttesterCandidatesFrozen",
  }).filter((e) => e.args.stackId === stackId);
  return frozen ? [...frozen.args.candidates] : undefined;
}

/**
 * Runs the draw a settlement armed, or returns undefined when it cannot run yet: private selection seeds from the
 * block after the settlement's, so its window opens from the block after that (anyone opens it later).
 */
async function drawUnlessTooEarly(ctx: ChainContext, stackId: bigint, candidates: bigint[]) {
  return drawAttestersUntilDone(ctx, { stackId, candidates }).catch((error: unknown) => {
    if (error instanceof ContractRevertError && error.errorName === "DrawTooEarly") return undefined;
    throw error;
  });
}

function fromDraw(outcome: AttesterDrawOutcome, candidates: bigint[]): SettlementOutcome {
  switch (outcome.outcome) {
    case "selectionOpened":
    case "fallback":
      // Private selection: the candidates select themselves in the window; the draw closes after it.
      return { sampled: false, outcome: "drawPending", candidates };
    case "sampled":
      return { sampled: true, ...outcome };
    case "accepted":
      return { sampled: false, outcome: "accepted", windowEnds: outcome.windowEnds };
    case "unverifiable":
      return { sampled: false, outcome: "unverifiable", refunded: outcome.refunded };
    default:
      throw new UnexpectedOutcomeError(`a first attester draw cannot end ${outcome.outcome}`);
  }
}

/**
 * The serving node submits its settlement. A verified one arms its attester draw, which this runs in the next
 * transaction unless `draw` is off; the result says whether attesters were sampled.
 */
export async function submitSettlement(
  ctx: ChainContext,
  params: SubmitSettlementParams,
  options: SubmitOptions = {},
): Promise<SubmitSettlementResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "settle",
    args: [params.stackId, params.root, params.units, params.requestCount, params.transcriptId],
    gas: options.gas,
  });
  const candidates = frozenCandidates(receipt, params.stackId);
  if (!candidates) {
    const [accepted] = parseEventLogs({
      abi: settlementManagerAbi,
      logs: receipt.logs,
      eventName: "SettlementAccepted",
    });
    return {
      ...txInfo(receipt),
      sampled: false,
      outcome: "accepted",
      windowEnds: accepted?.args.windowEnds ?? 0n,
    };
  }
  if (options.draw === false)
    return { ...txInfo(receipt), sampled: false, outcome: "drawPending", candidates };
  const drawn = await drawUnlessTooEarly(ctx, params.stackId, candidates);
  if (!drawn) return { ...txInfo(receipt), sampled: false, outcome: "drawPending", candidates };
  return { ...txInfo(receipt), ...fromDraw(drawn, candidates) };
}

/**
 * Several settlements in one transaction (`settleMany`), to spread the fixed cost. The verified ones arm their
 * attester draws; unless `draw` is off each is then drawn in its own transaction. Returns the stacks drawn, those
 * sampled, and those whose draw is still pending.
 */
export async function submitSettlements(
  ctx: ChainContext,
  settlements: readonly SubmitSettlementParams[],
  options: SubmitOptions = {},
): Promise<TxInfo & { drawn: bigint[]; sampled: bigint[]; drawPending: bigint[] }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "settleMany",
    args: [settlements.map((s) => ({ ...s }))],
    gas: options.gas,
  });
  const drawn: bigint[] = [];
  const sampled: bigint[] = [];
  const drawPending: bigint[] = [];
  for (const { stackId } of settlements) {
    const candidates = frozenCandidates(receipt, stackId);
    if (!candidates) continue;
    if (options.draw === false) {
      drawPending.push(stackId);
      continue;
    }
    const outcome = await drawUnlessTooEarly(ctx, stackId, candidates);
    if (!outcome || outcome.outcome === "selectionOpened" || outcome.outcome === "fallback") {
      drawPending.push(stackId);
      continue;
    }
    drawn.push(stackId);
    if (outcome.outcome === "sampled") sampled.push(stackId);
  }
  return { ...txInfo(receipt), drawn, sampled, drawPending };
}
