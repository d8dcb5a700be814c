import { modelRegistryAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface RegisterModelParams {
  modelId: Hex;
  /** Merkle root of the model's weights, which nodes check before serving. */
  weightsRoot: Hex;
  /** The owner's share of every settled stack's fee, in bps. */
  feeBps: number;
  collateral: bigint;
  uri: string;
}

/** Registers a model owned by the context's account, staking its collateral. */
export async function registerModel(
  ctx: ChainContext,
  params: RegisterModelParams,
): Promise<TxInfo & { status: number }> {
  if (params.collateral > 0n) await ensureAllowance(ctx, ctx.addresses.ModelRegistry, params.collateral);
  const receipt = await execute(ctx, {
    address: ctx.addresses.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [params.modelId, params.weightsRoot, params.feeBps, params.collateral, params.uri],
  });
  const event = single(
    parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "ModelRegistered" }),
    "ModelRegistered",
  );
  return { ...txInfo(receipt), status: event.args.status };
}

/** A node reports that the published weights do not match the registered root. */
export async function reportWeightsMismatch(
  ctx: ChainContext,
  params: { modelId: Hex; nodeId: bigint },
): Promise<TxInfo & { reports: number; disabled: boolean }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: "reportWeightsMismatch",
    args: [params.modelId, params.nodeId],
  });
  const report = single(
    parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "WeightsMismatchReported" }),
    "WeightsMismatchReported",
  );
  const disabled =
    parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "ModelStatusChanged" }).length > 0;
  return { ...txInfo(receipt), reports: report.args.reports, disabled };
}
