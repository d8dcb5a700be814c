import { DisputeStatus, disputeSelectionAbi } from "@atoma/contracts";
import { type Address, zeroHash } from "viem";
import { currentCommitteeWindow, disputeSelectionOf } from "./committeeSelection.js";
import { committeeWindowCandidates } from "./committeeWindowCandidates.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { readDispute } from "./disputeReads.js";
import { execute } from "./execute.js";
import { latestBlock } from "./latestBlock.js";
import type { VrfProofArgs } from "./vrfProofArgs.js";

/** blockhash reads only the last 256 blocks. */
const BLOCKHASH_HORIZON = 256n;

/**
 * Stores the public top-up seed of dispute `disputeId`'s current private window (`DisputeSelection.pokeSeed`) when it is
 * needed: the window ended short of N, the top-up is armed, its seed block's hash is readable now and nobody stored
 * it yet. A stalled top-up otherwise loses that hash after 256 blocks and falls back to the public draw; once stored,
 * the top-up draws from it however late. Returns the transaction, or undefined when nothing needed storing.
 */
export async function pokeCommitteeSeed(
  ctx: ChainContext,
  params: { disputeId: bigint; selection?: Address | undefined },
): Promise<TxInfo | undefined> {
  const address = disputeSelectionOf(ctx, params.selection);
  const args = [await currentCommitteeWindow(ctx, params)] as const;
  const abi = disputeSelectionAbi;
  const [toppingUp, stored, fellBack, dispute, block] = await Promise.all([
    ctx.publicClient.readContract({ address, abi, functionName: "toppingUp", args }),
    ctx.publicClient.readContract({ address, abi, functionName: "topUpSeeds", args }),
    ctx.publicClient.readContract({ address, abi, functionName: "fellBack", args }),
    readDispute(ctx, params.disputeId),
    latestBlock(ctx),
  ]);
  if (!toppingUp || stored !== zeroHash || fellBack) return undefined;
  if (dispute.status !== DisputeStatus.Open || dispute.drawn) return undefined;
  const seedBlock = dispute.drawBlock + 1n;
  if (block.number <= seedBlock || block.number > seedBlock + BLOCKHASH_HORIZON) return undefined;
  const receipt = await execute(ctx, {
    address,
    abi: disputeSelectionAbi,
    functionName: "pokeSeed",
    args: [params.disputeId],
  });
  return txInfo(receipt);
}

/**
 * After the selection window of dispute `disputeId`'s draw round `round` (0 unless given), shows node `nodeId`'s VRF
 * proof on that window's seed (one it published, e.g. by claiming a bounty for its silence): selected, never seated
 * and with a seat it would have taken, the node is slashed the timeout share
 * (`DisputeSelection.reportSilentSelection`). Anyone may. `candidates` must be the list that round's window opened on:
 * by default read from its `CommitteeSelectionOpened` event, never the manager's current list (a later round replaced
 * it).
 */
export async function reportSilentCommitteeMember(
  ctx: ChainContext,
  params: {
    disputeId: bigint;
    round?: number | undefined;
    nodeId: bigint;
    proof: VrfProofArgs;
    candidates?: readonly bigint[] | undefined;
    selection?: Address | undefined;
  },
): Promise<TxInfo> {
  const round = params.round ?? 0;
  const candidates =
    params.candidates ??
    (await committeeWindowCandidates(ctx, {
      disputeId: params.disputeId,
      round,
      selection: params.selection,
    }));
  const receipt = await execute(ctx, {
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "reportSilentSelection",
    args: [params.disputeId, round, params.nodeId, [...candidates], params.proof.proof, params.proof.hints],
  });
  return txInfo(receipt);
}
