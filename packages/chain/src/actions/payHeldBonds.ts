import { challengeManagerAbi } from "@atoma/contracts";
import { type Address, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";
import { getSettlement } from "./getSettlement.js";

/** The stack's held challenge bonds (those its node answered), as `heldBondOf` reads them. */
export function heldBondsOf(ctx: ChainContext, stackId: bigint): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "heldBondOf",
    args: [stackId],
  });
}

/** When `payHeld` can act on a stack's held bonds, as the ChallengeManager reads them. */
export interface HeldBondsState {
  /** The bonds held for the node's answers. */
  held: bigint;
  /**
   * Every challenge was dismissed but a leaf an index answer revealed is still checkable past the window (review
   * rev4 R4-6): the settlement stays disputed until `payHeld` releases it after `releaseAfter`.
   */
  heldOpen: boolean;
  /** The later of the challenge window's end and the end of the check of revealed leaves (`checkUntil`). */
  releaseAfter: bigint;
  /** After this the node's operator is paid (`bondsDueAt`: the exit notice after `releaseAfter`, review R2-5). */
  dueAfter: bigint;
}

/** The stack's held bonds and when `payHeld` releases its settlement and pays them. */
export async function heldBondsState(ctx: ChainContext, stackId: bigint): Promise<HeldBondsState> {
  const on = { address: ctx.addresses.ChallengeManager, abi: challengeManagerAbi, args: [stackId] } as const;
  const [held, heldOpen, checkUntil, dueAfter, settlement] = await Promise.all([
    ctx.publicClient.readContract({ ...on, functionName: "heldBondOf" }),
    ctx.publicClient.readContract({ ...on, functionName: "heldOpen" }),
    ctx.publicClient.readContract({ ...on, functionName: "checkUntil" }),
    ctx.publicClient.readContract({ ...on, functionName: "bondsDueAt" }),
    getSettlement(ctx, stackId),
  ]);
  const windowEnds = BigInt(settlement.windowEnds);
  const until = BigInt(checkUntil);
  return {
    held,
    heldOpen,
    releaseAfter: until > windowEnds ? until : windowEnds,
    dueAfter: BigInt(dueAfter),
  };
}

/**
 * Once no challenge of the stack is open and its challenge window (and the check of the leaves its index answers
 * revealed) is over (anyone may call): releases a settlement held disputed for that check, and pays out the bonds
 * of its answered challenges back to the owner when a challenge was upheld or a receipt fraud proven, to its
 * node's operator when the settlement stands and the fraud window is over (`dueAfter`). With nothing to do yet the
 * chain refuses with `BondsStillHeld`. `paid` is undefined when nothing was paid (nothing held, or only released).
 */
export async function payHeldBonds(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<TxInfo & { paid: { to: Address; amount: bigint } | undefined }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "payHeld",
    args: [params.stackId],
  });
  const [held] = parseEventLogs({ abi: challengeManagerAbi, logs: receipt.logs, eventName: "HeldBondsPaid" });
  return { ...txInfo(receipt), paid: held ? { to: held.args.to, amount: held.args.amount } : undefined };
}
