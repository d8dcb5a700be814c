import type { ChainContext } from "@atoma/chain";
import { closeUnprovenStack, type ReceiptWithheldError, type UsableStack } from "@atoma/sdk";
import { keepAside } from "./asideStore.js";
import { pendingFile } from "./pendingStore.js";

/**
 * A stack whose node committed a leaf and refuses the resend of its signed request (`ReceiptWithheldError`) is
 * stalled: nothing new may be signed past that leaf, so every later run would fail on it until it expires. The node
 * is put aside (no later run uses or buys from it), the stack closed now (its escrow comes back once the node
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
  );
  const deadline = await closeUnprovenStack(ctx, stack.stackId);
  process.stderr.write(
    `node ${stack.nodeId} withholds the receipt of the request at nonce ${error.nonce} on stack ${stack.stackId}: put aside, ${deadline === undefined ? "the stack no longer serves" : `the stack closed, to be settled by ${deadline}`}; the signed request is kept in ${pendingFile(receiptsFile)}\n`,
  );
}
