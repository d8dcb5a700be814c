import { disputeSelectionAbi } from "@atoma/contracts";
import { disputeSelectionWindow } from "@atoma/core";
import type { Address } from "viem";
import { EventNotFoundError } from "../errors.js";
import { disputeSelectionOf } from "./committeeSelection.js";
import type { ChainContext } from "./context.js";

/** blockhash reads only the last 256 blocks: a window opens within that many blocks of its freeze block. */
const BLOCKHASH_HORIZON = 256n;

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
  const logs =
    frozenAt === 0n
      ? []
      : await ctx.publicClient.getContractEvents({
          address,
          abi: disputeSelectionAbi,
          eventName: "CommitteeSelectionOpened",
          args: { disputeId: params.disputeId },
          fromBlock: frozenAt + 2n,
          toBlock: frozenAt + BLOCKHASH_HORIZON,
          strict: true,
        });
  const opened = logs.find(
    (log) => log.args.disputeId === params.disputeId && log.args.round === params.round,
  );
  if (!opened)
    throw new EventNotFoundError(
      `no CommitteeSelectionOpened for dispute ${params.disputeId} round ${params.round}${frozenAt === 0n ? " (the window never opened)" : ` within ${BLOCKHASH_HORIZON} blocks after block ${frozenAt}`}`,
    );
  return [...opened.args.candidates];
}
