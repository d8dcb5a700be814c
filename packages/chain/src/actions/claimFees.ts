import { atomaVaultAbi } from "@atoma/contracts";
import { type Address, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/** Pays a node's operator its fees of `epochs` (each must have ended). */
export async function claimNodeFees(
  ctx: ChainContext,
  params: { nodeId: bigint; epochs: readonly bigint[] },
): Promise<TxInfo & { amount: bigint; operator: Address }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AtomaVault,
    abi: atomaVaultAbi,
    functionName: "claimNodeFees",
    args: [params.nodeId, params.epochs],
  });
  const { args } = single(
    parseEventLogs({ abi: atomaVaultAbi, logs: receipt.logs, eventName: "NodeFeesClaimed" }),
    "NodeFeesClaimed",
  );
  return { ...txInfo(receipt), amount: args.amount, operator: args.operator };
}

/** Pays the context's account its model-owner fees of `epochs` (each must have ended). */
export async function claimOwnerFees(
  ctx: ChainContext,
  params: { epochs: readonly bigint[] },
): Promise<TxInfo & { amount: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AtomaVault,
    abi: atomaVaultAbi,
    functionName: "claimOwnerFees",
    args: [params.epochs],
  });
  const { args } = single(
    parseEventLogs({ abi: atomaVaultAbi, logs: receipt.logs, eventName: "OwnerFeesClaimed" }),
    "OwnerFeesClaimed",
  );
  return { ...txInfo(receipt), amount: args.amount };
}

/** Pays `account` its vault balance: refunds of unused units and slashed shares. Anyone may trigger it. */
export async function withdrawBalance(
  ctx: ChainContext,
  params: { account: Address },
): Promise<TxInfo & { amount: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AtomaVault,
    abi: atomaVaultAbi,
    functionName: "withdraw",
    args: [params.account],
  });
  const { args } = single(
    parseEventLogs({ abi: atomaVaultAbi, logs: receipt.logs, eventName: "Withdrawn" }),
    "Withdrawn",
  );
  return { ...txInfo(receipt), amount: args.amount };
}
