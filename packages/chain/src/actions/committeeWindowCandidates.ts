import { disputeSelectionAbi } from "@atoma/contracts";
import { disputeSelectionWindow } from "@atoma/core";
import type { Address } from "viem";
import { EventNotFoundError } from "../errors.js";
import { disputeSelectionOf } from "./committeeSelection.js";
import type { ChainContext } from "./context.js";

/** blockhash reads only the last 256 blocks: a window opens within that many blocks of its freeze block. */
const BLOCKHASH_HORIZON = 256n;
/** Blocks per log query: within the range limits public providers set (often 100 to 10,000 blocks). */
const LOG_SPAN = 100n;

/**
 * The candidates the selection window of dispute `disputeId`'s draw round `round` opened on, from its
 * `CommitteeSelectionOpened` event: the list a report of that window's silence must show. The manager's
 * `candidatesOf` holds only the latest round's list (arming the next round replaces it), so it is never used here.
 */
export async function committeeWindowCandidates(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: { disputeId: bigint; round: number; selection?: Address | undefined },
): Promise<bigint[]> {
  const address = disputeSelectionOf(ctx, params.selection);
  const frozenAt = await ctx.publicClient.readContract({
    address,
    abi: disputeSelectionAbi,
    functionName: "frozenAt",
    args: [disputeSelectionWindow(params.disputeId, params.round)],
  });
  // Never past the head (some providers refuse a range that ends there), in spans a capped provider takes.
  const latest = frozenAt === 0n ? 0n : await ctx.publicClient.getBlockNumber();
  const last = frozenAt + BLOCKHASH_HORIZON < latest ? frozenAt + BLOCKHASH_HORIZON : latest;
  let opened: { args: { disputeId: bigint; round: number; candidates: readonly bigint[] } } | undefined;
  for (let from = frozenAt + 2n; frozenAt !== 0n && from <= last && !opened; from += LOG_SPAN) {
    const to = from + LOG_SPAN - 1n < last ? from + LOG_SPAN - 1n : last;
    const logs = await ctx.publicClient.getContractEvents({
      address,
      abi: disputeSelectionAbi,
      eventName: "CommitteeSelectionOpened",
      args: { disputeId: params.disputeId },
      fromBlock: from,
      toBlock: to,
      strict: true,
    });
    opened = logs.find((log) => log.args.disputeId === params.disputeId && log.args.round === params.round);
  }
  if (!opened)
    throw new EventNotFoundError(
      `no CommitteeSelectionOpened for dispute ${params.disputeId} round ${params.round}${frozenAt === 0n ? " (the window never opened)" : ` within ${BLOCKHASH_HORIZON} blocks after block ${frozenAt}`}`,
    );
  return [...opened.args.candidates];
}
