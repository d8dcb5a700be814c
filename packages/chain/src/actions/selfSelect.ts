import { settlementDrawAbi, vrfKeyRegistryAbi } from "@atoma/contracts";
import { isSelected } from "@atoma/core";
import type { Hex } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { attesterCandidatesOf } from "./drawAttesters.js";
import { execute } from "./execute.js";
import { vrfKeyRegistryOf } from "./registerVrfKey.js";
import { type VrfProofArgs, vrfProofArgs } from "./vrfProofArgs.js";

/** A settlement's private selection window as `SettlementDraw.selectionOf` holds it (`endsAt` 0: not open). */
export interface AttesterSelection {
  seed: Hex;
  endsAt: bigint;
  /** A candidate asked for the sampled requests on chain: the server posts them by then (0: nobody asked). */
  dataDeadline: bigint;
  numerator: bigint;
  denominator: bigint;
  nodeIds: readonly bigint[];
  commitments: readonly Hex[];
}

export async function getAttesterSelection(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stackId: bigint,
): Promise<AttesterSelection> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "selectionOf",
    args: [stackId],
  });
}

/**
 * The private window of the draw a settlement has armed now, with its round: the first draw's (round 0) or a
 * replacement round's (1 or more) while it is drawn by self-selection; undefined when the armed round is drawn in
 * public (a top-up after a window that seated too few, or a deployment without private selection) or no window of
 * it has opened yet.
 */
export async function currentAttesterSelection(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stackId: bigint,
): Promise<(AttesterSelection & { round: number }) | undefined> {
  const at = { address: ctx.addresses.SettlementDraw, abi: settlementDrawAbi } as const;
  const armed = await ctx.publicClient.readContract({ ...at, functionName: "armedOf", args: [stackId] });
  const round = armed.round;
  if (round !== 0) {
    const topUp = await ctx.publicClient.readContract({ ...at, functionName: "topUpRound", args: [stackId] });
    if (topUp === round) return undefined;
  }
  const selection =
    round === 0
      ? await getAttesterSelection(ctx, stackId)
      : await ctx.publicClient.readContract({
          ...at,
          functionName: "roundSelectionOf",
          args: [stackId, round],
        });
  return selection.endsAt === 0n ? undefined : { ...selection, round };
}

/**
 * Whether node `nodeId` proved its selection for `stackId` (seated, or kept out by the cap's lower outputs) or was
 * slashed for its silence: either way it has nothing more to send in that window.
 */
export async function hasAnsweredSelection(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stackId: bigint,
  nodeId: bigint,
  round = 0,
): Promise<boolean> {
  if (round !== 0)
    return ctx.publicClient.readContract({
      address: ctx.addresses.SettlementDraw,
      abi: settlementDrawAbi,
      functionName: "roundAnswered",
      args: [stackId, round, nodeId],
    });
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "answered",
    args: [stackId, nodeId],
  });
}

/**
 * Whether node `nodeId`'s VRF key may select it in `stackId`'s private windows: registered before the block that
 * froze the settlement's candidates (`VrfKeyRegistry.keyUsableAt`). A node asks before any work: `selfSelect` with a
 * newer key reverts `VrfKeyTooNew`.
 */
export async function vrfKeyUsableForSettlement(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: { stackId: bigint; nodeId: bigint },
): Promise<boolean> {
  const { frozenAt } = await ctx.publicClient.readContract({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "armedOf",
    args: [params.stackId],
  });
  return ctx.publicClient.readContract({
    address: vrfKeyRegistryOf(ctx),
    abi: vrfKeyRegistryAbi,
    functionName: "keyUsableAt",
    args: [params.nodeId, BigInt(frozenAt)],
  });
}

/**
 * Whether `secretKey` selects its node on `selection`'s seed, with the proof when it does. Runs in private: nobody
 * without the key can compute it, and nothing is sent.
 */
export function evaluateSelection(
  secretKey: Hex,
  selection: Pick<AttesterSelection, "seed" | "numerator" | "denominator">,
): (VrfProofArgs & { selected: true }) | { selected: false } {
  const args = vrfProofArgs(secretKey, selection.seed);
  return isSelected(args.beta, selection) ? { ...args, selected: true } : { selected: false };
}

/**
 * The request indices a self-selected attester checks: those the settlement manager will sample from the
 * window's seed (its low 128 bits) once the window closes.
 */
export async function selectionSampleIndices(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: { seed: Hex; requestCount: bigint; sampleSize: bigint },
): Promise<readonly bigint[]> {
  let count = params.sampleSize;
  if (params.requestCount < count) count = params.requestCount;
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "sampleIndices",
    args: [BigInt(params.seed) & ((1n << 128n) - 1n), params.requestCount, count],
  });
}

/**
 * Node `nodeId` selects itself as an attester of `stackId` in its open window, with its VRF proof and its
 * attestation commitment (never zero: a seat names an attester, so it comes with what it committed to). The
 * contract checks the proof under the node's key registered before the freeze, the threshold, and that the node is
 * a candidate that has not selected itself yet.
 */
export async function selfSelect(
  ctx: ChainContext,
  params: {
    stackId: bigint;
    nodeId: bigint;
    proof: VrfProofArgs;
    commitment: Hex;
    candidates?: readonly bigint[] | undefined;
  },
): Promise<TxInfo> {
  const candidates = params.candidates ?? (await attesterCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "selfSelect",
    args: [
      params.stackId,
      params.nodeId,
      [...candidates],
      params.proof.proof,
      params.proof.hints,
      params.commitment,
    ],
  });
  return txInfo(receipt);
}

/** The selection windows opened in `range` (`SelectionOpened`), as logged. */
export async function findOpenedSelections(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  range: { fromBlock: bigint; toBlock: bigint },
) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    eventName: "SelectionOpened",
    fromBlock: range.fromBlock,
    toBlock: range.toBlock,
  });
  return logs.map((log) => ({ ...log.args, blockNumber: log.blockNumber }));
}
