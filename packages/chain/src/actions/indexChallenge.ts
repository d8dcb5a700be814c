import { challengeManagerAbi } from "@atoma/contracts";
import type { Hash, StackLeaf } from "@atoma/core";
import type { Hex } from "viem";
import { approveChallengeBond, type ChallengeResult, challengeResult } from "./challengeSettlement.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/**
 * The stack owner challenges settled leaf `leafIndex` as a request it never signed (typically one past its last
 * receipt: a leaf the node added). The owner pays the challenge bond (approved here when needed); the node has
 * until `answerDeadline` to show the leaf under its root with the owner's signature on its request (whose
 * `maxUnits` the leaf's units must not exceed), or it is slashed for fraud. An index challenge always waits for the node, so `upheld` is false.
 */
export async function challengeLeafIndex(
  ctx: ChainContext,
  params: { stackId: bigint; leafIndex: bigint },
): Promise<ChallengeResult> {
  await approveChallengeBond(ctx);
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "challengeIndex",
    args: [params.stackId, params.leafIndex],
  });
  return challengeResult(receipt);
}

export interface IndexChallengeAnswer {
  challengeId: bigint;
  /** The leaf at the challenged index (its nonce is the index). */
  leaf: StackLeaf;
  /** The request's deadline, unit bound and the owner's EIP-712 `AtomaRequest` signature, as the owner sent them. */
  deadline: bigint;
  /** The chain refuses (`UnitsOverSigned`) a leaf whose units exceed it: the node is then slashed. */
  maxUnits: bigint;
  ownerSignature: Hex;
  /** The leaf's stack-tree proof against the settled root. */
  proof: readonly Hash[];
  /**
   * The leaf before it (none at index 0) and its proof: the chain refuses (`RunningTotalBroken`) an answer whose
   * running total does not follow from it, or, at the last index, is not the units settled.
   */
  previous: StackLeaf | undefined;
  previousProof: readonly Hash[];
}

const NO_LEAF: StackLeaf = {
  leafIndex: 0n,
  nonce: 0n,
  reqHash: `0x${"0".repeat(64)}`,
  respHash: `0x${"0".repeat(64)}`,
  units: 0n,
  cumulativeUnits: 0n,
};

/** The challenged node answers an index challenge, which dismisses it and earns it the bond. */
export async function answerIndexChallenge(ctx: ChainContext, params: IndexChallengeAnswer): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "answerIndexChallenge",
    args: [
      params.challengeId,
      params.leaf,
      params.deadline,
      params.maxUnits,
      params.ownerSignature,
      params.proof,
      params.previous ?? NO_LEAF,
      params.previousProof,
    ],
  });
  return txInfo(receipt);
}
