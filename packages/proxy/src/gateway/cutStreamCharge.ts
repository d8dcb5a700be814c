import { costOfUnits, requestHash } from "@atoma/core";
import { failedInStream } from "../network/failedInStream.js";
import { provesNodeFraud } from "../network/provesNodeFraud.js";
import type { SignedLeaf } from "./upstream.js";

/** How a stream cut before its receipt is charged: nothing, or its maximum held for its leaf's receipt. */
export interface CutStreamCharge {
  /** Charge the reservation (the node may bill the leaf up to its signed bound). */
  keep: boolean;
  /** The most the key is charged, when less than its reservation: a stream stopped or cut short (what it got). */
  costWei?: bigint | undefined;
  /** Where the charge is held until the leaf's receipt settles it (absent: no leaf signed for the request). */
  hold?:
    | { stackId: bigint; nonce: bigint; maxUnits: bigint; pricePerMillion: bigint; reqHash: string }
    | undefined;
}

/**
 * A stream that relayed text and then failed (the user stopped it, the node broke off): its reservation is charged and
 * held for the leaf's receipt, which the next request on the stack brings (the pending request is resent first), or
 * the stack's settlement; the key then pays what the receipt says and gets the rest back (review of issue 12,
 * MEDIUM-4). A stream whose receipt proves the node's fraud (forged, overbilled) is charged nothing: the node
 * leaves rotation and its leaf is the gateway's to dispute (LOW-4). Any other failure (the gateway's own size cap on a
 * long answer, an unhashable stream) is charged as a cut stream: the node may bill the leaf (review speed-gwfix, B-1).
 * A stream with no text relayed is charged nothing.
 *
 * A stream stopped by its client or cut before its last chunk (`deliveredChunks`: the answer chunks it was sent; a node
 * can cut on purpose and bill the leaf up to its bound, review of h-gw, HIGH-4) is charged at most what it got, the hold
 * bounded by the signed body's bytes (no tokenizer makes more prompt tokens, a chat template's few aside) plus a token
 * for each chunk delivered. The stack's next request reads the leaf (never regenerating the answer): a node that
 * committed it is paid its receipt, the key at most the hold and the gateway the rest; one that committed nothing
 * gets the nonce's next request there, whose receipt gives the key its hold back.
 */
export function cutStreamCharge(
  error: unknown,
  relayed: boolean,
  leaf: SignedLeaf | undefined,
  deliveredChunks?: number | undefined,
): CutStreamCharge {
  // The node's own error answer ended it: it says it failed, so it committed nothing, and its nonce is given to the
  // stack's next request (`NetworkUpstream`); a node that bills the leaf anyway leaves rotation (refuse-then-bill).
  // A refusal of the stream's resend (409 `request_in_flight`) is no such answer: the leaf may be committed.
  if (!relayed || provesNodeFraud(error) || failedInStream(error)) return { keep: false };
  if (!leaf) return { keep: true };
  const delivered =
    deliveredChunks === undefined
      ? leaf.maxUnits
      : BigInt(new TextEncoder().encode(leaf.json).length) + BigInt(deliveredChunks);
  const maxUnits = delivered < leaf.maxUnits ? delivered : leaf.maxUnits;
  return {
    keep: true,
    costWei: deliveredChunks === undefined ? undefined : costOfUnits(maxUnits, leaf.pricePerMillion),
    hold: {
      stackId: leaf.stackId,
      nonce: leaf.nonce,
      maxUnits,
      pricePerMillion: leaf.pricePerMillion,
      // Only a receipt for this very request settles the hold at its units.
      reqHash: requestHash(JSON.parse(leaf.json) as Record<string, unknown>),
    },
  };
}
