import {
  advanceDispute,
  type ChainContext,
  ContractRevertError,
  type DisputeStep,
  pokeCommitteeSeed,
} from "@atoma/chain";
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
 * Moves a dispute on as any party may: stores a private committee's public top-up seed while its hash is readable
 * (so a stalled top-up keeps its draw instead of falling back after 256 blocks), draws its committee once the block
 * after its seed block is mined, resolves it once it is due (the server missed its evidence deadline, no committee
 * could be drawn, or the vote is over). A race lost to another party is no error. On a dev chain, which mines only on
 * transactions, a draw waiting for a block mines that block itself, and so does a committee window whose end has
 * passed by the clock but not yet on chain: a quiet dev network would otherwise never draw.
 */
export async function moveDisputeOn(ctx: ChainContext, disputeId: bigint): Promise<DisputeStep> {
  const dev = DEV_CHAIN_IDS.has(ctx.publicClient.chain.id);
  const mine = () => ctx.publicClient.request({ method: "evm_mine" } as never);
  try {
    if (ctx.addresses.DisputeSelection) await pokeCommitteeSeed(ctx, { disputeId });
    const step = await advanceDispute(ctx, { disputeId });
    if (step === "awaiting-block" && dev) await mine();
    return step;
  } catch (error) {
    if (!(error instanceof ContractRevertError) || !RACED.has(error.errorName)) throw error;
    if (dev && error.errorName === "SelectionWindowOpen" && windowOverByClock(error.args)) await mine();
    return "waiting";
  }
}

/** Whether `SelectionWindowOpen(disputeId, endsAt)`'s end has passed by this machine's clock. */
function windowOverByClock(args: readonly unknown[] | undefined): boolean {
  const endsAt = args?.[1];
  return typeof endsAt === "bigint" && BigInt(Math.floor(Date.now() / 1000)) > endsAt;
}
