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

/**
 * Closes the stack as `closeUnprovenStack` and says what came of it, never throwing (review S3-2): a close that fails
 * (an RPC error, no gas, a nonce clash) leaves the stack for its expiry and is given as `closeError`; the request
 * goes on with another stack.
 */
export function closeUnprovenReported(
  ctx: ChainContext,
  stackId: bigint,
): Promise<{ settleDeadline: bigint | undefined; closeError?: unknown }> {
  return closeUnprovenStack(ctx, stackId).then(
    (settleDeadline) => ({ settleDeadline }),
    (closeError: unknown) => ({ settleDeadline: undefined, closeError }),
  );
}

/** A stack closed by its owner after its node called it exhausted with a total nothing at hand could check. */
export interface UnprovenExhaustion {
  stackId: bigint;
  nodeId: bigint;
  /** The running total the node signed in its refusal (its receipt is kept with the client's, `shown`). */
  claimed: bigint;
  /** When the node must settle by; undefined when the stack had stopped serving already or the close failed. */
  settleDeadline: bigint | undefined;
  /** Why the owner's close failed (an RPC error, no gas…): the stack is left for its expiry, the call goes on. */
  closeError?: unknown;
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
   * leaf it billed. Always false when no settlement was submitted (timed out, or failed before one): units 0 there
   * say nothing the node signed.
   */
  contradicted: boolean;
  /** Why the units were not compared (no submitted settlement), when they were not. */
  reason?: string;
}

/** `ISettlementManager.Phase.TimedOut`: the node never settled; the owner was refunded and the node slashed. */
const PHASE_TIMED_OUT = 7;
const ZERO_ROOT = `0x${"0".repeat(64)}`;

/**
 * Judges a settlement read from the chain against the claim: only a settlement the node submitted (a root, not
 * timed out) bills units of its own making (review S3-1: a timed-out stack's units 0 are not a contradiction).
 */
export function judgeExhaustionClaim(
  stackId: bigint,
  claimed: bigint,
  settlement: { phase: number; root: string; units: bigint | number },
): ExhaustionClaimCheck {
  const settled = BigInt(settlement.units);
  if (settlement.phase === PHASE_TIMED_OUT)
    return { stackId, claimed, settled, contradicted: false, reason: "the node never settled (timed out)" };
  if (settlement.root === ZERO_ROOT)
    return { stackId, claimed, settled, contradicted: false, reason: "no settlement was submitted" };
  return { stackId, claimed, settled, contradicted: settled < claimed };
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
  return judgeExhaustionClaim(stackId, claimed, settlement);
}
