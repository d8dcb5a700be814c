import { STACK_HEADERS } from "@atoma/core";
import {
  NodeRequestError,
  NodeUnreachableError,
  ResendInFlightError,
  ResponseVerificationError,
} from "./errors.js";
import type { SignedStackRequest } from "./signStackRequest.js";

/** Codes of a node's refusal of a nonce; nothing was charged, and the answer names the nonce it takes. */
const NONCE_REFUSED = new Set(["nonce_out_of_order", "nonce_reused"]);

/** The node refused the request's nonce (`nonce_out_of_order`, `nonce_reused`). */
export function isNonceRefusal(error: NodeRequestError): boolean {
  return NONCE_REFUSED.has(error.code);
}

/** Codes of a stack's refusal while a request on it is in flight (409): a resend of that very request may get one. */
const IN_FLIGHT = new Set(["request_in_flight", "stack_busy"]);

/** The node refused for a request in flight on the stack (409 `request_in_flight`, `stack_busy`). */
export function isInFlightRefusal(error: NodeRequestError): boolean {
  return error.status === 409 && IN_FLIGHT.has(error.code);
}

/**
 * A failure that says nothing of the leaf: the node could not be reached, was busy or failed (429, 5xx), still had
 * the resent request in flight, or its answer failed verification (thrown as such).
 */
export function transient(error: unknown): boolean {
  if (
    error instanceof NodeUnreachableError ||
    error instanceof ResponseVerificationError ||
    error instanceof ResendInFlightError
  )
    return true;
  return error instanceof NodeRequestError && (error.status === 429 || error.status >= 500);
}

/**
 * The node refused the request itself (4xx other than 429, the nonce and the deadline; not a resend it still had in
 * flight): it did not commit it.
 */
export function refusedOutright(error: unknown): boolean {
  return (
    error instanceof NodeRequestError &&
    !(error instanceof ResendInFlightError) &&
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
