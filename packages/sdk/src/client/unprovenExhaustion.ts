import {
  type ChainContext,
  ContractRevertError,
  closeStack,
  getSettlement,
  getStack,
  StackStatus,
} from "@atoma/chain/portable";

/**
 * Closes a stack its node called exhausted with a running total nothing at hand can check (a stack reused with none
 * of its receipts): the owner's close starts the node's settlement deadline now, so the escrow left comes back
 * after the settlement rather than waiting for the stack's expiry. Returns the deadline by which the node must
 * settle, or undefined when the stack no longer serves (closed already, settling or settled: nothing to close).
 */
export async function closeUnprovenStack(ctx: ChainContext, stackId: bigint): Promise<bigint | undefined> {
  const stack = await getStack(ctx, stackId);
  if (stack.status !== StackStatus.Active || stack.closedAt !== 0n) return undefined;
  try {
    const { settleDeadline } = await closeStack(ctx, { stackId });
    return settleDeadline;
  } catch (error) {
    // The node settled it (or it expired) between the read and the close: nothing left to close.
    if (error instanceof ContractRevertError && error.errorName === "StackNotActive") return undefined;
    throw error;
  }
}

/** A stack closed by its owner after its node called it exhausted with a total nothing at hand could check. */
export interface UnprovenExhaustion {
  stackId: bigint;
  nodeId: bigint;
  /** The running total the node signed in its refusal (its receipt is kept with the client's, `shown`). */
  claimed: bigint;
  /** When the node must settle by; undefined when the stack had stopped serving already (nothing was closed). */
  settleDeadline: bigint | undefined;
}

/** What a node's settlement says of the running total it claimed a stack held when it called it exhausted. */
export interface ExhaustionClaimCheck {
  stackId: bigint;
  /** The running total the node signed in its `stack_exhausted` refusal. */
  claimed: bigint;
  /** The units its settlement bills. */
  settled: bigint;
  /**
   * True when the node settled fewer units than it claimed: its own settlement says the stack had units left, so
   * the refusal was false (the refusal's receipt, kept, is the evidence). False when it settled the claim or more:
   * then the owner's index challenge decides, slashing a node that cannot show the owner's signed request for each
   * leaf it billed.
   */
  contradicted: boolean;
}

/**
 * Compares a stack's settlement with the running total its node claimed in an unproven `stack_exhausted`; undefined
 * while the node has not settled it.
 */
export async function exhaustionClaimSettled(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stackId: bigint,
  claimed: bigint,
): Promise<ExhaustionClaimCheck | undefined> {
  const [stack, settlement] = await Promise.all([getStack(ctx, stackId), getSettlement(ctx, stackId)]);
  if (stack.status === StackStatus.Active || settlement.phase === 0) return undefined;
  const settled = BigInt(settlement.units);
  return { stackId, claimed, settled, contradicted: settled < claimed };
}
