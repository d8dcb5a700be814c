import { settlementManagerAbi } from "@atoma/contracts";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { type AttesterDrawOutcome, attesterDrawOutcome } from "./drawAttesters.js";
import { execute, single } from "./execute.js";
import { type AttestationComparison, attestationComparison } from "./openAttestation.js";

/** Refunds the owner of a stack the node never settled, and slashes the node the timeout share. Anyone may call. */
export async function timeoutSettlement(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<TxInfo & { refunded: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "timeoutSettlement",
    args: [params.stackId],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SettlementTimedOut" }),
    "SettlementTimedOut",
  );
  return { ...txInfo(receipt), refunded: args.refunded };
}

/**
 * Slashes attesters that missed the commit deadline (their timeout share to the treasury) and arms the draw of
 * their replacements, which `drawAttesters` runs in a later block; after the server's reveal, slashes those that
 * did not open by the opening deadline and compares the openings (`compared`). Anyone may call.
 */
export async function timeoutAttesters(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<
  TxInfo & {
    timedOut: bigint[];
    drawPending: boolean;
    outcome: AttesterDrawOutcome | undefined;
    compared: AttestationComparison | undefined;
  }
> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "timeoutAttesters",
    args: [params.stackId],
  });
  const logs = receipt.logs;
  const compared = attestationComparison(receipt);
  return {
    ...txInfo(receipt),
    timedOut: parseEventLogs({ abi: settlementManagerAbi, logs, eventName: "AttesterTimedOut" }).map(
      (e) => e.args.nodeId,
    ),
    drawPending:
      parseEventLogs({ abi: settlementManagerAbi, logs, eventName: "AttesterDrawPending" }).length > 0,
    // After the reveal nothing is drawn: the openings are compared instead.
    outcome: compared ? undefined : attesterDrawOutcome(receipt, params.stackId),
    compared,
  };
}

/** Fails a server that did not reveal, or did not post requested data, in time: a fraud slash. Anyone may call. */
export async function failVerification(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<TxInfo & { reason: number; refunded: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "failVerification",
    args: [params.stackId],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SettlementFailed" }),
    "SettlementFailed",
  );
  return { ...txInfo(receipt), reason: args.reason, refunded: args.refunded };
}
