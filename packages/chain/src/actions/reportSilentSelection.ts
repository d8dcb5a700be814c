import { settlementDrawAbi } from "@atoma/contracts";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { attesterCandidatesOf } from "./drawAttesters.js";
import { execute } from "./execute.js";
import type { VrfProofArgs } from "./vrfProofArgs.js";

/**
 * After the selection window of `stackId`, shows node `nodeId`'s VRF proof on its seed (one it published, e.g. by
 * claiming a bounty for its silence): selected and never seated, the node is slashed the timeout share. Anyone may.
 */
export async function reportSilentSelection(
  ctx: ChainContext,
  params: {
    stackId: bigint;
    nodeId: bigint;
    proof: VrfProofArgs;
    candidates?: readonly bigint[] | undefined;
  },
): Promise<TxInfo> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "reportSilentSelection",
    args: [params.stackId, params.nodeId, [...candidates], params.proof.proof, params.proof.hints],
  });
  return txInfo(receipt);
}

/**
 * `reportSilentSelection` for the private window of replacement round `round` (1 or more) of `stackId`: a node
 * that was selected there and never proved it (and would have sat) is slashed the timeout share. Anyone may.
 */
export async function reportSilentReplacement(
  ctx: ChainContext,
  params: {
    stackId: bigint;
    round: number;
    nodeId: bigint;
    proof: VrfProofArgs;
    candidates?: readonly bigint[] | undefined;
  },
): Promise<TxInfo> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "reportSilentReplacement",
    args: [
      params.stackId,
      params.round,
      params.nodeId,
      [...candidates],
      params.proof.proof,
      params.proof.hints,
    ],
  });
  return txInfo(receipt);
}
