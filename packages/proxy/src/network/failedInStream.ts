import { NodeRequestError } from "@atoma/sdk";

/**
 * The node ended a stream it had begun (200) with its own error event: it says the request failed and that it
 * committed nothing. A refusal of a resend (an HTTP status, e.g. 409 `request_in_flight` while the node still finishes
 * the first attempt) says no such thing.
 */
export function failedInStream(error: unknown): error is NodeRequestError {
  return error instanceof NodeRequestError && error.status === 200;
}
