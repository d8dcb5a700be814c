import { type ChainContext, getSettlement, getStack, StackStatus } from "@atoma/chain/portable";
import type { NodeRequestError } from "../errors.js";
import { DEFAULT_IDLE_SECONDS } from "../network.js";
import { requestUnitBound } from "../requestUnitBound.js";
import type { StackClient } from "../StackClient.js";
import type { UsableStack } from "../stackChoice.js";
import { shownLastLeaf } from "./shownLastLeaf.js";

/** Answers that say a stack can serve no more. */
export const STACK_SPENT = new Set(["stack_exhausted", "stack_expired", "stack_closed"]);

/**
 * Why a node's claim that `stack` is spent is false, or undefined when the chain or a receipt the node signed bears
 * it out. Closed and expired are read on-chain; exhausted holds when the stack is no longer active or expired, or
 * when the units left by the receipts the node signed are fewer than the request may take: those this client kept,
 * and the stack's last leaf the refusal must carry (`error.atoma`, checked by `shownLastLeaf`: one contradicting
 * the client's records is a lie, kept as evidence). On a stack none of whose receipts is at hand (one reused from
 * an earlier run) a last leaf shown proves nothing either way: the stack is left and the leaf kept for the owner's
 * index challenge, which slashes a node that cannot show the owner's signed request for each leaf it claims, and
 * `onUnproven` hears the running total claimed when it leaves no room for the smallest request (`unprovenSpent`;
 * a total leaving room for smaller requests only says "too big for what is left": the stack is left open): the caller closes the stack at once (`closeUnprovenStack`) so that
 * its escrow does not wait for its expiry, and compares the units settled with the claim (`exhaustionClaimSettled`).
 * A total that leaves room for the refused request itself is a lie by the node's own signature (review R4-4: the
 * stack was left open, its escrow locked until expiry): the caller puts the node aside and closes the stack.
 */
export async function falseSpentClaim(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stack: UsableStack,
  client: StackClient,
  body: Record<string, unknown>,
  error: NodeRequestError,
  onUnproven?: (claimedUnits: bigint) => void,
): Promise<string | undefined> {
  const [onChain, block] = await Promise.all([getStack(ctx, stack.stackId), ctx.publicClient.getBlock()]);
  if (onChain.status !== StackStatus.Active) return undefined;
  if (BigInt(onChain.expiresAt) <= block.timestamp) return undefined;
  const live = `the chain says stack ${stack.stackId} is active until ${onChain.expiresAt}`;
  if (error.code !== "stack_exhausted") return `node ${stack.nodeId} says ${error.code}, but ${live}`;
  const last = await shownLastLeaf(stack, client, error.atoma);
  if (last !== undefined && "lie" in last)
    return `node ${stack.nodeId} says stack_exhausted, but ${last.lie}`;
  // Nothing at hand says either way: the stack is left (its receipt kept for the challenge), the node not blamed.
  if (last !== undefined && "unproven" in last) {
    // Review S3-5: `stack_exhausted` is also an honest node's answer to a request bigger than what is left. The stack
    // is ended only when the node's own signed total leaves no room for the smallest request; else it is just not
    // used for this one.
    const needed = neededUnits(body);
    const verdict = unprovenVerdict(BigInt(onChain.units), last.units, needed);
    if (verdict === "lie")
      return `node ${stack.nodeId} says stack_exhausted, but ${live}; the running total it signed in its refusal, ${last.units}, leaves ${BigInt(onChain.units) - last.units} of ${onChain.units} units, ${needed} needed`;
    if (verdict === "spent") onUnproven?.(last.units);
    return undefined;
  }
  const shown = last !== undefined && "units" in last ? last.units : undefined;
  const used = shown !== undefined && shown > usedUnits(client) ? shown : usedUnits(client);
  const left = BigInt(onChain.units) - used;
  const needed = neededUnits(body);
  if (left < needed) return undefined;
  const proof = shown === undefined ? "it showed no receipt of its own for the claim, and " : "";
  return `node ${stack.nodeId} says stack_exhausted, but ${live}; ${proof}the receipts it signed leave ${left} of ${onChain.units} units, ${needed} needed`;
}

/** The units the smallest request signs for (an empty message, one token): less left, and the stack is spent. */
export const SMALLEST_REQUEST_UNITS = requestUnitBound({
  messages: [{ role: "user", content: "" }],
  max_tokens: 1,
});

/**
 * Whether a reused stack its node called exhausted, with a running total nothing at hand can check, is spent by that
 * total: fewer units left than the smallest request takes. Otherwise the refusal may be the honest "this request is
 * too big for what is left", and the stack stays open for smaller ones.
 */
export function unprovenSpent(stackUnits: bigint, claimed: bigint): boolean {
  return stackUnits - claimed < SMALLEST_REQUEST_UNITS;
}

/**
 * What a reused stack's unproven `stack_exhausted` total says of the refusal (review R4-4). `lie`: it leaves at
 * least the refused request's signed bound, which is the most an honest node holds for it (it reserves its own
 * bound of the request, at most the signed one, and refuses only when less is left after its last leaf), so the
 * node's own signature contradicts the refusal. `spent`: it leaves less than the smallest request. `tooBig`: room
 * for smaller requests only, the honest "too big for what is left".
 */
export function unprovenVerdict(
  stackUnits: bigint,
  claimed: bigint,
  needed: bigint,
): "lie" | "spent" | "tooBig" {
  if (claimed <= stackUnits && stackUnits - claimed >= needed) return "lie";
  return unprovenSpent(stackUnits, claimed) ? "spent" : "tooBig";
}

/** A node settles a stack shortly before it expires (or once spent): closing one long before is refusing to serve. */
const SETTLE_MARGIN_SECONDS = 600n;

/**
 * The units this client's stack holds by the receipts it accepted (the last one's running total): a receipt it
 * refused (a total inflated past what the owner signed) proves nothing.
 */
function usedUnits(client: StackClient): bigint {
  return client.lastAccepted?.fields.cumulativeUnits ?? 0n;
}

/** The bound the request was signed with: `StackClient` adds the stream flag (`false`, the longer, is taken). */
function neededUnits(body: Record<string, unknown>): bigint {
  try {
    return requestUnitBound(body.input === undefined ? { ...body, stream: false } : body);
  } catch {
    return 1n;
  }
}

/**
 * Whether the node closed (settled) a stack long before it expired with units left for the request, by the
 * receipts this client kept and the units the node's settlement claims on-chain (a stack reused from an earlier
 * run, none of its receipts at hand, is judged by the settlement alone): the chain bears the node out, yet each
 * such stack costs its owner a purchase for little service. A node may settle a stack idle for the network's
 * bound (`idleSeconds`, from its last service): that is not closing early when this client last sent on the stack
 * at least that long ago, or never did (`lastSentAt`: by default this client's; a caller that keeps the stack's
 * receipts across runs gives when the last one arrived, else an earlier run's use is not known here).
 */
export async function closedEarly(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stack: UsableStack,
  client: StackClient,
  body: Record<string, unknown>,
  idleSeconds: number = DEFAULT_IDLE_SECONDS,
  lastSentAt: number | undefined = client.lastSentAt,
): Promise<boolean> {
  if (lastSentAt === undefined || Date.now() - lastSentAt >= idleSeconds * 1_000) return false;
  const [onChain, block, settlement] = await Promise.all([
    getStack(ctx, stack.stackId),
    ctx.publicClient.getBlock(),
    getSettlement(ctx, stack.stackId),
  ]);
  if (onChain.status === StackStatus.Active) return false;
  if (BigInt(onChain.expiresAt) <= block.timestamp + SETTLE_MARGIN_SECONDS) return false;
  const claimed = BigInt(settlement.units);
  const used = claimed > usedUnits(client) ? claimed : usedUnits(client);
  return BigInt(onChain.units) - used >= neededUnits(body);
}
