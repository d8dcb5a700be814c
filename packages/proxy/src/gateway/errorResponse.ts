import { AtomaError, isListedWireError, type OpenAiErrorType, WIRE_ERRORS } from "@atoma/core";
import { ClientArgumentError, NodeRequestError } from "@atoma/sdk";
import { HTTPException } from "hono/http-exception";
import { RetryLaterError } from "../errors.js";

/** OpenAI's error body, which every OpenAI client parses. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** False when the text is withheld (an internal failure): the caller logs it. */
  expected: boolean;
}

const bodyOf = (message: string, type: string, code: string): ErrorBody => ({
  error: { message, type, param: null, code },
});

/** `Retry-After` (and whether retrying can help) for refusals that pass. */
function retryHeaders(seconds: number | undefined, worthRetrying = true): Record<string, string> {
  if (seconds === undefined || !Number.isFinite(seconds)) return {};
  const headers: Record<string, string> = { "retry-after": String(Math.max(1, Math.ceil(seconds))) };
  // OpenAI's own clients read this and stop retrying what only an operator can fix.
  if (!worthRetrying) headers["x-should-retry"] = "false";
  return headers;
}

/**
 * The response an error deserves: a listed error with its status, OpenAI type and short message; a node's
 * refusal of the request as the node gave it; anything else a 500 whose text is withheld.
 */
export function errorResponseOf(error: unknown): ErrorResponse {
  if (error instanceof NodeRequestError && error.status < 500) {
    const type = isListedWireError(error.code) ? WIRE_ERRORS[error.code].type : "invalid_request_error";
    return {
      status: error.status,
      body: bodyOf(error.shortMessage, type, error.code),
      headers: retryHeaders(error.retryAfterSeconds),
      expected: true,
    };
  }
  // The SDK refused the body before sending it to a node: the client's request is at fault, not the gateway.
  if (error instanceof ClientArgumentError)
    return {
      status: 400,
      body: bodyOf(error.shortMessage, "invalid_request_error", "invalid_input"),
      headers: {},
      expected: true,
    };
  if (error instanceof AtomaError && isListedWireError(error.code)) {
    const { status, type } = WIRE_ERRORS[error.code];
    const headers =
      error instanceof RetryLaterError ? retryHeaders(error.retryAfterSeconds, error.worthRetrying) : {};
    if (error.code === "shutting_down") headers.connection = "close";
    return { status, body: bodyOf(error.shortMessage, type, error.code), headers, expected: true };
  }
  if (error instanceof HTTPException && error.status < 500) {
    const type: OpenAiErrorType = error.status === 404 ? "not_found_error" : "invalid_request_error";
    return {
      status: error.status,
      body: bodyOf(error.message || "bad request", type, `http_${error.status}`),
      headers: {},
      expected: true,
    };
  }
  return {
    status: 500,
    body: bodyOf("internal error", "server_error", "internal_error"),
    headers: {},
    expected: false,
  };
}
