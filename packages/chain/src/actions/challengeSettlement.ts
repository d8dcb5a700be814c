import { disputeManagerAbi } from "@atoma/contracts";
import type { Hash, SignedResponseFields } from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/**
 * The stack owner challenges an accepted settlement with a node-signed response. `upheld` is true when the
 * signature alone proved the fraud (an index beyond the settled count, or the last response's running total
 * below the claimed units); otherwise the node has until `answerDeadline` to prove the leaf is under its root.
 */
export async function challengeSettlement(
  ctx: ChainContext,
  params: { stackId: bigint; response: SignedResponseFields; signature: Hex },
): Promise<TxInfo & { disputeId: bigint; upheld: boolean; answerDeadline: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "challenge",
    args: [params.stackId, params.response, params.signature],
  });
  const opened = single(
    parseEventLogs({ abi: disputeManagerAbi, logs: receipt.logs, eventName: "ChallengeOpened" }),
    "ChallengeOpened",
  );
  const [resolved] = parseEventLogs({
    abi: disputeManagerAbi,
    logs: receipt.logs,
    eventName: "ChallengeResolved",
  });
  return {
    ...txInfo(receipt),
    disputeId: opened.args.disputeId,
    upheld: resolved?.args.upheld ?? false,
    answerDeadline: opened.args.answerDeadline,
  };
}

/** The challenged node proves the leaf is under its root, which dismisses the challenge. */
export async function answerChallenge(
  ctx: ChainContext,
  params: { disputeId: bigint; proof: readonly Hash[] },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "answerChallenge",
    args: [params.disputeId, params.proof],
  });
  return txInfo(receipt);
}
