import { settlementDrawAbi } from "@atoma/contracts";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { attesterCandidatesOf } from "./drawAttesters.js";
import { execute } from "./execute.js";

/**
 * Candidate `nodeId` cannot fetch the transcript of `stackId` while its selection window is open: it asks for the
 * sampled requests on chain (`SettlementDraw.requestSelectionData`). Any candidate may, selected or not, so the
 * request tells nobody who is selected; the server must post by the returned data deadline, and the window runs
 * one window past it.
 */
export async function requestSelectionData(
  ctx: ChainContext,
  params: { stackId: bigint; nodeId: bigint; candidates?: readonly bigint[] | undefined },
): Promise<TxInfo> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "requestSelectionData",
    args: [params.stackId, params.nodeId, [...candidates]],
  });
  return txInfo(receipt);
}
