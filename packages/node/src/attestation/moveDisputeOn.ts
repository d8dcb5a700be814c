import { advanceDispute, type ChainContext, ContractRevertError, type DisputeStep } from "@atoma/chain";
import { DEV_CHAIN_IDS } from "../config/schema.js";

/**
 * Reverts that only mean another party moved the dispute on first, or that a private committee selection is not
 * over yet (its window is open, or waits for the evidence).
 */
const RACED = new Set([
  "DisputeClosed",
  "NothingToDraw",
  "DrawNotReady",
  "TooEarly",
  "SelectionWindowOpen",
  "SelectionNotReady",
]);

/**
 * Moves a dispute on as any party may: draws its committee once the block that seeds it is past, resolves it once
 * it is due (the server missed its evidence deadline, no committee could be drawn, or the vote is over). A race
 * lost to another party is no error. On a dev chain, which mines only on transactions, a draw waiting for the block
 * after its seed block mines that block itself: a quiet dev network would otherwise never draw.
 */
export async function moveDisputeOn(ctx: ChainContext, disputeId: bigint): Promise<DisputeStep> {
  try {
    const step = await advanceDispute(ctx, { disputeId });
    if (step === "awaiting-block" && DEV_CHAIN_IDS.has(ctx.publicClient.chain.id)) {
      await ctx.publicClient.request({ method: "evm_mine" } as never);
    }
    return step;
  } catch (error) {
    if (error instanceof ContractRevertError && RACED.has(error.errorName)) return "waiting";
    throw error;
  }
}
