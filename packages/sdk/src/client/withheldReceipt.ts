import type { ChainContext } from "@atoma/chain/portable";
import { LeafUnreadableError, NodeRequestError, type ReceiptWithheldError } from "../errors.js";
import type { PendingRequest } from "../StackClient.js";
import { closeUnprovenReported } from "./unprovenExhaustion.js";

/** How long a node that withheld a receipt stays aside: a week (then it may serve this owner again). */
export const WITHHELD_ASIDE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Whether a refused resend proves the node withholds the receipt: only its own word that the exact signed request's
 * nonce is used (`nonce_reused`: it committed the leaf) and showed no other client of the owner's leaf there
 * (`StackClient` reads it first, `readStackLeaf`, and adopts one it shows: no error then). A 401 (the node's clock may run ahead of the client's), a
 * `nonce_out_of_order` or any other refusal proves nothing (review CLI3-1): the call fails, the node is not put
 * aside and the stack is not closed. A `LeafUnreadableError` (the node called the nonce used, then failed every read of
 * the leaf it says it committed there, over `leafReadEscalation`) counts as withholding too.
 */
export function withholdingProven(error: ReceiptWithheldError): boolean {
  // The node called the nonce used and failed every read of its leaf there, often enough over long enough.
  if (error instanceof LeafUnreadableError) return true;
  return error.cause instanceof NodeRequestError && error.cause.code === "nonce_reused";
}

/** A stack whose node committed a leaf and withholds its receipt: closed by its owner, the node put aside a while. */
export interface WithheldReceipt {
  stackId: bigint;
  nodeId: bigint;
  /** The nonce (leaf) of the request whose receipt is withheld. */
  nonce: bigint;
  /** The signed request the node committed, as sent: the owner's evidence that the leaf was asked for within its bound. */
  request: PendingRequest | undefined;
  /** Why the node is put aside (what `onNodePutAside` and `atoma chat`'s aside file say). */
  reason: string;
  /** When the node may serve this owner again. */
  asideUntil: Date;
  /** When the node must settle by; undefined when the stack had stopped serving already or the close failed. */
  settleDeadline: bigint | undefined;
  /** Why the owner's close failed (an RPC error, no gas…): the stack is left for its expiry, the call goes on. */
  closeError?: unknown;
}

/**
 * A stack whose node refuses the resend of a request it committed (`ReceiptWithheldError` with `withholdingProven`)
 * is stalled: nothing new may be signed past that leaf, so every later request on it would fail until it expires.
 * The owner closes it now (its escrow comes back once the node settles, not at its expiry; a failed close is given as
 * `closeError`, never thrown), and the node is to be put aside for `WITHHELD_ASIDE_MS`: another node serves.
 */
export async function closeStalledStack(
  ctx: ChainContext,
  stack: { stackId: bigint; nodeId: bigint },
  error: ReceiptWithheldError,
  now = Date.now(),
): Promise<WithheldReceipt> {
  const closed = await closeUnprovenReported(ctx, stack.stackId);
  return {
    stackId: stack.stackId,
    nodeId: stack.nodeId,
    nonce: error.nonce,
    request: error.request,
    reason:
      error instanceof LeafUnreadableError
        ? `called nonce ${error.nonce} on stack ${stack.stackId} used and failed ${error.failures} reads of its leaf there`
        : `withheld the receipt of the request signed at nonce ${error.nonce} on stack ${stack.stackId}`,
    asideUntil: new Date(now + WITHHELD_ASIDE_MS),
    ...closed,
  };
}
