import type { ChainContext } from "@atoma/chain";
import {
  closeUnprovenStack,
  NodeRequestError,
  type ReceiptWithheldError,
  type UsableStack,
} from "@atoma/sdk";
import { keepAside } from "./asideStore.js";
import { pendingFile } from "./pendingStore.js";

/** How long a node that withheld a receipt stays aside: a week (the entry says why, and when it ends). */
export const WITHHELD_ASIDE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Whether a refused resend proves the node withholds the receipt: only its own word that the exact signed request's
 * nonce is used (`nonce_reused`: it committed the leaf). A 401 (the node's clock may run ahead of the client's), a
 * `nonce_out_of_order` or any other refusal proves nothing (review CLI3-1): the run fails, the node is not put aside
 * and the stack is not closed.
 */
export function withholdingProven(error: ReceiptWithheldError): boolean {
  return error.cause instanceof NodeRequestError && error.cause.code === "nonce_reused";
}

/**
 * A stack whose node committed a leaf and refuses the resend of its signed request (`ReceiptWithheldError`) is
 * stalled: nothing new may be signed past that leaf, so every later run would fail on it until it expires. The node
 * is put aside for `WITHHELD_ASIDE_MS` (no later run uses or buys from it meanwhile), the stack closed now (its escrow comes back once the node
 * settles, not at its expiry), and the signed request stays in the pending file: the owner's evidence that the leaf
 * was asked for within its signed bound.
 */
export async function stackStalled(
  ctx: ChainContext,
  stack: UsableStack,
  error: ReceiptWithheldError,
  aside: string,
  receiptsFile: string,
): Promise<void> {
  keepAside(
    aside,
    stack.nodeId,
    `withheld the receipt of the request signed at nonce ${error.nonce} on stack ${stack.stackId}`,
    WITHHELD_ASIDE_MS,
  );
  const deadline = await closeUnprovenStack(ctx, stack.stackId);
  process.stderr.write(
    `node ${stack.nodeId} withholds the receipt of the request at nonce ${error.nonce} on stack ${stack.stackId}: put aside, ${deadline === undefined ? "the stack no longer serves" : `the stack closed, to be settled by ${deadline}`}; the signed request is kept in ${pendingFile(receiptsFile)}\n`,
  );
}

/** A refused resend that proves nothing: reported, the node kept, the stack left open; the run fails. */
export function resendRefused(stack: UsableStack, error: ReceiptWithheldError): void {
  const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
  process.stderr.write(
    `node ${stack.nodeId} refused the resend of the request at nonce ${error.nonce} on stack ${stack.stackId} (${cause}): nothing proves it withholds the receipt, so it is not put aside and the stack stays open; run again later\n`,
  );
}
