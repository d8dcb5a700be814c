import type { ChainContext } from "@atoma/chain";
import { closeStalledStack, type ReceiptWithheldError, type UsableStack } from "@atoma/sdk";
import { keepAside } from "./asideStore.js";
import { pendingFile } from "./pendingStore.js";

/**
 * A stack whose node committed a leaf and refuses the resend of its signed request (`ReceiptWithheldError` that
 * `withholdingProven`) is stalled: the SDK's `closeStalledStack` closes it (its escrow comes back once the node
 * settles, not at its expiry), and the node is put aside in the owner's state until the SDK's `asideUntil` (no later
 * run uses or buys from it meanwhile); the signed request stays in the pending file: the owner's evidence that the
 * leaf was asked for within its signed bound.
 */
export async function stackStalled(
  ctx: ChainContext,
  stack: UsableStack,
  error: ReceiptWithheldError,
  aside: string,
  receiptsFile: string,
): Promise<void> {
  const withheld = await closeStalledStack(ctx, stack, error);
  keepAside(aside, stack.nodeId, withheld.reason, withheld.asideUntil);
  const closed =
    withheld.settleDeadline !== undefined
      ? `the stack closed, to be settled by ${withheld.settleDeadline}`
      : withheld.closeError !== undefined
        ? `the stack could not be closed (${withheld.closeError instanceof Error ? withheld.closeError.message.split("\n")[0] : String(withheld.closeError)}): it settles at its expiry`
        : "the stack no longer serves";
  process.stderr.write(
    `node ${stack.nodeId} withholds the receipt of the request at nonce ${error.nonce} on stack ${stack.stackId}: put aside, ${closed}; the signed request is kept in ${pendingFile(receiptsFile)}\n`,
  );
}

/** A refused resend that proves nothing: reported, the node kept, the stack left open; the run fails. */
export function resendRefused(stack: UsableStack, error: ReceiptWithheldError): void {
  const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
  process.stderr.write(
    `node ${stack.nodeId} refused the resend of the request at nonce ${error.nonce} on stack ${stack.stackId} (${cause}): nothing proves it withholds the receipt, so it is not put aside and the stack stays open; run again later\n`,
  );
}
