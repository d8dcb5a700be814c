import { disputeSelectionAbi, vrfKeyRegistryAbi } from "@atoma/contracts";
import type { Address, Hex } from "viem";
import { VrfNotDeployedError } from "../errors.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";
import { vrfKeyRegistryOf } from "./registerVrfKey.js";
import type { VrfProofArgs } from "./vrfProofArgs.js";

/**
 * A dispute committee's private selection window as `DisputeSelection.selectionOf` holds it (`endsAt` 0: not open):
 * the current draw round's window (each round has its own, with its own seed).
 * Every action reads the deployment's `DisputeSelection` unless given another `selection` address.
 */
export interface CommitteeSelection {
  seed: Hex;
  candidatesHash: Hex;
  endsAt: bigint;
  numerator: bigint;
  denominator: bigint;
  nodeIds: readonly bigint[];
  commitments: readonly Hex[];
}

/** Which selection contract to use: the one given, else the deployment's. */
interface SelectionTarget {
  selection?: Address | undefined;
  disputeId: bigint;
}

/** The deployment's DisputeSelection; throws VrfNotDeployedError when private selection is off. */
export function disputeSelectionOf(ctx: Pick<ChainContext, "addresses">, given?: Address): Address {
  const address = given ?? ctx.addresses.DisputeSelection;
  if (!address)
    throw new VrfNotDeployedError("this deployment has no DisputeSelection (private selection is off)");
  return address;
}

export async function getCommitteeSelection(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: SelectionTarget,
): Promise<CommitteeSelection> {
  return ctx.publicClient.readContract({
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "selectionOf",
    args: [params.disputeId],
  });
}

/** Opens dispute `disputeId`'s selection window (anyone may, in a block after the one that armed its draw). */
export async function openCommitteeSelection(ctx: ChainContext, params: SelectionTarget): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "open",
    args: [params.disputeId],
  });
  return txInfo(receipt);
}

/**
 * Node `nodeId` takes a seat on dispute `disputeId`'s committee with its VRF proof on the window's seed and its
 * vote commitment (`DisputeManager.voteCommitment`) in one transaction. Evaluate first (`evaluateCommitteeSeat` in
 * the node). The manager's `drawCommittee` after the window seats it, already committed.
 */
export async function selfSelectCommittee(
  ctx: ChainContext,
  params: SelectionTarget & { nodeId: bigint; proof: VrfProofArgs; commitment: Hex },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "selfSelect",
    args: [params.disputeId, params.nodeId, params.proof.proof, params.proof.hints, params.commitment],
  });
  return txInfo(receipt);
}

/** Whether the window is over (or full), and when it is, whether enough members sat (else: public fallback). */
export async function committeeSelectionOutcome(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: SelectionTarget,
): Promise<{ final: boolean; formed: boolean; members: readonly bigint[]; commitments: readonly Hex[] }> {
  const [final, formed, members, commitments] = await ctx.publicClient.readContract({
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "committeeOf",
    args: [params.disputeId],
  });
  return { final, formed, members, commitments };
}

/**
 * The key of dispute `disputeId`'s current selection window (`DisputeSelection.currentWindow`): the window of the
 * draw round in progress, or of the round that seated the committee. Every draw round has its own window; the
 * selection's per-window reads (`frozenAt`, `fellBack`, `answered`, `toppingUp`, `topUpSeeds`) take this key.
 */
export async function currentCommitteeWindow(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: SelectionTarget,
): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "currentWindow",
    args: [params.disputeId],
  });
}

/**
 * Whether node `nodeId`'s VRF key may select it in dispute `disputeId`'s current window: registered before the block
 * that froze that round's candidates (`VrfKeyRegistry.keyUsableAt`). A node asks before any work: `selfSelect` with
 * a newer key reverts `VrfKeyTooNew`.
 */
export async function vrfKeyUsableForDispute(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  params: SelectionTarget & { nodeId: bigint },
): Promise<boolean> {
  const window = await currentCommitteeWindow(ctx, params);
  const frozenAt = await ctx.publicClient.readContract({
    address: disputeSelectionOf(ctx, params.selection),
    abi: disputeSelectionAbi,
    functionName: "frozenAt",
    args: [window],
  });
  return ctx.publicClient.readContract({
    address: vrfKeyRegistryOf(ctx),
    abi: vrfKeyRegistryAbi,
    functionName: "keyUsableAt",
    args: [params.nodeId, frozenAt],
  });
}
