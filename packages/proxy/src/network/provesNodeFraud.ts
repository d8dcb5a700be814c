import {
  AnswerTooLargeError,
  NonceGapError,
  ReceiptWithheldError,
  ResponseVerificationError,
  UnhashableStreamError,
} from "@atoma/sdk";
import { OverbilledReceiptError } from "./receiptBound.js";

/**
 * Whether a failed answer proves the node cheated on its receipt: a bad signature or signer, a hash that is not the
 * answer's, units or a running total it could not sign, a receipt over its signed bound. Not the gateway's own size cap
 * (`AnswerTooLargeError`: an honest long answer passes it), a stream the SDK cannot hash, a nonce gap or a withheld
 * receipt: those say nothing the chain could call fraud, and the node may bill the leaf (review speed-gwfix, B-1).
 */
export function provesNodeFraud(error: unknown): boolean {
  if (error instanceof OverbilledReceiptError) return true;
  if (!(error instanceof ResponseVerificationError)) return false;
  return !(
    error instanceof AnswerTooLargeError ||
    error instanceof UnhashableStreamError ||
    error instanceof NonceGapError ||
    error instanceof ReceiptWithheldError
  );
}
