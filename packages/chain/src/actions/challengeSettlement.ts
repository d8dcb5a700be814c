import { atomaVaultAbi, challengeManagerAbi, nodeRegistryAbi } from "@atoma/contracts";
import type { Hash, SignedResponseFields } from "@atoma/core";
import { type Address, type Hex, parseEventLogs, type TransactionReceipt } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface ChallengeResult extends TxInfo {
  challengeId: bigint;
  /** True when the signature alone proved the fraud (nothing for the node to answer). */
  upheld: boolean;
  answerDeadline: bigint;
  /** TOMA the owner paid: the node's if it answers, back to the owner if it does not. */
  bond: bigint;
}

/**
 * The stack owner challenges an accepted settlement with a node-signed response. `upheld` is true when the
 * signature alone proved the fraud (an index beyond the settled count, or the last response's running total
 * below the claimed units); otherwise the owner pays the challenge bond (approved here when needed) and the node
 * has until `answerDeadline` to prove the leaf is under its root. A leaf once proven cannot be challenged again.
 */
export async function challengeSettlement(
  ctx: ChainContext,
  params: { stackId: bigint; response: SignedResponseFields; signature: Hex },
): Promise<ChallengeResult> {
  await approveChallengeBond(ctx);
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "challenge",
    args: [params.stackId, params.response, params.signature],
  });
  return challengeResult(receipt);
}

/** Lets the challenge manager take the challenge bond from the caller (approved only when needed). */
export async function approveChallengeBond(ctx: ChainContext): Promise<void> {
  const [, , bond] = await ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "params",
  });
  await ensureAllowance(ctx, ctx.addresses.ChallengeManager, bond);
}

/** What the transaction that opened a challenge says of it (and whether the same transaction upheld it). */
export function challengeResult(receipt: TransactionReceipt): ChallengeResult {
  const opened = single(
    parseEventLogs({ abi: challengeManagerAbi, logs: receipt.logs, eventName: "ChallengeOpened" }),
    "ChallengeOpened",
  );
  const [resolved] = parseEventLogs({
    abi: challengeManagerAbi,
    logs: receipt.logs,
    eventName: "ChallengeResolved",
  });
  return {
    ...txInfo(receipt),
    challengeId: opened.args.challengeId,
    upheld: resolved?.args.upheld ?? false,
    answerDeadline: opened.args.answerDeadline,
    bond: opened.args.bond,
  };
}

/** The challenged node proves the leaf is under its root, which dismisses the challenge and earns it the bond. */
export async function answerChallenge(
  ctx: ChainContext,
  params: { challengeId: bigint; proof: readonly Hash[] },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "answerChallenge",
    args: [params.challengeId, params.proof],
  });
  return txInfo(receipt);
}

/**
 * A challenge: status, answer deadline, leaf index, owner, stack, node, the challenged leaf (zero for an index
 * challenge) and the bond it still holds; status 0 when unknown.
 */
export function getChallenge(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "ChallengeManager"> },
  challengeId: bigint,
) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "getChallenge",
    args: [challengeId],
  });
}

export interface ResolvedChallenge extends TxInfo {
  stackId: bigint;
  upheld: boolean;
  /** The node's collateral taken (split as for fraud). */
  slashed: bigint;
  /** The challenging owner's share of it, credited to the owner's vault balance. */
  ownerShare: bigint;
  /** The bond paid back to the owner. */
  bondReturned: bigint;
  /**
   * Bonds of the settlement's dismissed challenges, held until this one (its last open) resolved, paid out now:
   * to the owner when a challenge was upheld (review fresh 2 LOW-D), else to the node's operator.
   */
  heldPaid: { to: Address; amount: bigint } | undefined;
}

/** Upholds a challenge its node did not answer in time (anyone may call): the node is slashed for fraud. */
export async function resolveChallenge(
  ctx: ChainContext,
  params: { challengeId: bigint },
): Promise<ResolvedChallenge> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "resolve",
    args: [params.challengeId],
  });
  const logs = receipt.logs;
  const resolved = single(
    parseEventLogs({ abi: challengeManagerAbi, logs, eventName: "ChallengeResolved" }),
    "ChallengeResolved",
  );
  const [bond] = parseEventLogs({ abi: challengeManagerAbi, logs, eventName: "ChallengeBondPaid" });
  const [held] = parseEventLogs({ abi: challengeManagerAbi, logs, eventName: "HeldBondsPaid" });
  const [slash] = parseEventLogs({ abi: nodeRegistryAbi, logs, eventName: "NodeSlashed" });
  const [split] = parseEventLogs({ abi: atomaVaultAbi, logs, eventName: "SlashDistributed" });
  return {
    ...txInfo(receipt),
    stackId: resolved.args.stackId,
    upheld: resolved.args.upheld,
    slashed: slash?.args.amount ?? 0n,
    ownerShare: split?.args.toUser ?? 0n,
    bondReturned: bond?.args.amount ?? 0n,
    heldPaid: held ? { to: held.args.to, amount: held.args.amount } : undefined,
  };
}
