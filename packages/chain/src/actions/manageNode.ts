import { nodeRegistryAbi } from "@atoma/contracts";
import { parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/** Adds collateral to a node (approving the registry when needed). */
export async function topUpCollateral(
  ctx: ChainContext,
  params: { nodeId: bigint; amount: bigint },
): Promise<TxInfo & { collateral: bigint }> {
  await ensureAllowance(ctx, ctx.addresses.NodeRegistry, params.amount);
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "topUp",
    args: [params.nodeId, params.amount],
  });
  const event = single(
    parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "CollateralAdded" }),
    "CollateralAdded",
  );
  return { ...txInfo(receipt), collateral: event.args.collateral };
}

/**
 * Leaves the network, once every task subscription has ended (`unsubscribe`, then `completeExit` after the exit
 * notice; `SubscriptionsLeft` otherwise). `withdrawableAt` (unix seconds) is the earliest time the collateral can
 * be withdrawn: the exit notice after this, or after the node's last obligation if one is still open, and, for a node
 * that ever subscribed to a confidential task, not before the refund windows of its attestation statements close
 * (`REFUND_EPOCHS` epochs after, review R2-7).
 */
export async function deregisterNode(
  ctx: ChainContext,
  params: { nodeId: bigint },
): Promise<TxInfo & { withdrawableAt: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "deregister",
    args: [params.nodeId],
  });
  const event = single(
    parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "NodeDeregistered" }),
    "NodeDeregistered",
  );
  return { ...txInfo(receipt), withdrawableAt: event.args.withdrawableAt };
}

/**
 * Returns a deregistered node's collateral to its operator: with nothing pending, from the registry's
 * `withdrawableAt(nodeId)`: the exit notice after its deregistration and its last obligation, and, for a node that
 * ever subscribed to a confidential task, `REFUND_EPOCHS` epochs after them (`WithdrawalTooEarly(nodeId,
 * withdrawableAt)` before).
 */
export async function withdrawCollateral(
  ctx: ChainContext,
  params: { nodeId: bigint },
): Promise<TxInfo & { amount: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "withdrawCollateral",
    args: [params.nodeId],
  });
  const event = single(
    parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "CollateralWithdrawn" }),
    "CollateralWithdrawn",
  );
  return { ...txInfo(receipt), amount: event.args.amount };
}
