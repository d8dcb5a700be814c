import { STACK_HEADERS } from "@atoma/core";
import { NodeRequestError, NodeUnreachableError, ResponseVerificationError } from "./errors.js";
import type { SignedStackRequest } from "./signStackRequest.js";

/** Codes of a node's refusal of a nonce; nothing was charged, and the answer names the nonce it takes. */
const NONCE_REFUSED = new Set(["nonce_out_of_order", "nonce_reused"]);

/** The node refused the request's nonce (`nonce_out_of_order`, `nonce_reused`). */
export function isNonceRefusal(error: NodeRequestError): boolean {
  return NONCE_REFUSED.has(error.code);
}

/**
 * A failure that says nothing of the leaf: the node could not be reached, was busy or failed (429, 5xx), or its
 * answer failed verification (thrown as such).
 */
export function transient(error: unknown): boolean {
  if (error instanceof NodeUnreachableError || error instanceof ResponseVerificationError) return true;
  return error instanceof NodeRequestError && (error.status === 429 || error.status >= 500);
}

/** The node refused the request itself (4xx other than 429, the nonce and the deadline): it did not commit it. */
export function refusedOutright(error: unknown): boolean {
  return (
    error instanceof NodeRequestError &&
    error.status >= 400 &&
    error.status < 500 &&
    error.status !== 429 &&
    error.status !== 401 &&
    !isNonceRefusal(error)
  );
}

/** The node refused a resend as past its signed deadline (401), and the deadline has passed. */
export function expired(signed: SignedStackRequest, error: unknown): boolean {
  const deadline = Number(signed.headers[STACK_HEADERS.deadline]);
  return error instanceof NodeRequestError && error.status === 401 && deadline * 1000 <= Date.now();
}
