import { type Hash, leafDenialToWire, signLeafDenial } from "@atoma/core";
import type { Context } from "hono";
import { findLeafByNonce } from "../accounting/stacks.js";
import type { Reservation } from "../accounting/types.js";
import { LeafDeniedError, StackExhaustedError } from "../errors.js";
import type { StackApi } from "./apiContext.js";
import { signReceipt } from "./receipt.js";
import { answerResendOr } from "./resend.js";
import type { SignedRequest } from "./signedRequest.js";

/**
 * Reserves a request's unit bound on its stack, which records its nonce. A resend of a request already answered
 * (its nonce used, its stack perhaps spent or closed since) gets the stored answer instead.
 */
export async function reserveUnits(
  api: StackApi,
  c: Context,
  signed: SignedRequest,
  units: bigint,
): Promise<Reservation | Response> {
  const { envelope } = signed;
  try {
    return await api.accounting.reserve({
      stackId: envelope.stackId,
      units,
      nonce: envelope.nonce,
      deadline: envelope.deadline,
      reqHash: signed.reqHash,
    });
  } catch (error) {
    if (error instanceof StackExhaustedError) error.receipt = await lastReceipt(api, envelope);
    // Refused as a request this node denied there: with its signed word, the only one a client acts on.
    if (error instanceof LeafDeniedError && error.reqHash !== undefined) {
      const fields = { stackId: error.stackId, nonce: error.nonce, reqHash: error.reqHash as Hash };
      error.denial = leafDenialToWire({
        fields,
        signature: await signLeafDenial(api.account, api.domain, fields),
      });
    }
    return await answerResendOr(api, c, signed, error);
  }
}

/**
 * The receipt of the stack's last leaf, signed again: a stack is refused as exhausted only at the nonce of its next
 * leaf, so that leaf is the one below. Undefined when the stack has none.
 */
async function lastReceipt(api: StackApi, envelope: SignedRequest["envelope"]) {
  if (envelope.nonce === 0n) return undefined;
  const leaf = await findLeafByNonce(api.db, envelope.stackId, envelope.nonce - 1n);
  return leaf && signReceipt(api, leaf);
}

/** Gives the units back; a failure here is logged, not thrown (start-up releases what a crash leaves). */
export async function releaseQuietly(api: StackApi, reservation: Reservation): Promise<void> {
  try {
    await api.accounting.release(reservation);
  } catch (error) {
    api.logger.error({ err: error, reservation: reservation.id }, "releasing a reservation failed");
  }
}
