import { emissionScheduleAbi } from "@atoma/contracts";
import { type Address, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export type EmissionClaim =
  | { kind: "node"; nodeId: bigint; epoch: bigint }
  | { kind: "modelOwner"; owner: Address; epoch: bigint }
  | { kind: "treasury"; epoch: bigint };

/** Mints a share of an ended epoch's emission: a node's (to its operator), a model owner's, or the treasury's. */
export async function claimEmission(
  ctx: ChainContext,
  claim: EmissionClaim,
): Promise<TxInfo & { amount: bigint; to: Address }> {
  const call =
    claim.kind === "node"
      ? { functionName: "claimNodeEmission", args: [claim.nodeId, claim.epoch] }
      : claim.kind === "modelOwner"
        ? { functionName: "claimOwnerEmission", args: [claim.owner, claim.epoch] }
        : { functionName: "claimTreasuryEmission", args: [claim.epoch] };
  const receipt = await execute(ctx, {
    address: ctx.addresses.EmissionSchedule,
    abi: emissionScheduleAbi,
    ...call,
  });
  const { args } = single(
    parseEventLogs({ abi: emissionScheduleAbi, logs: receipt.logs, eventName: "EmissionClaimed" }),
    "EmissionClaimed",
  );
  return { ...txInfo(receipt), amount: args.amount, to: args.to };
}
