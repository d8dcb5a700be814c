import { challengeManagerAbi } from "@atoma/contracts";
import { type Address, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/** The stack's held challenge bonds (those its node answered), as `heldBondOf` reads them. */
export function heldBondsOf(ctx: ChainContext, stackId: bigint): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "heldBondOf",
    args: [stackId],
  });
}

/**
 * Pays out the bonds of a stack's answered challenges once none is open and its challenge window is over (anyone
 * may call): to its node's operator when the settlement stands, back to the owner when a challenge was upheld.
 * Before that the chain refuses with `BondsStillHeld`. `paid` is undefined when nothing was held.
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
