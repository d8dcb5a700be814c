import { AtomaError } from "@atoma/core";
import { HTTPException } from "hono/http-exception";
import { QueueFullError } from "../errors.js";

/** OpenAI's error types, which OpenAI-compatible clients switch on. */
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "insufficient_quota"
  | "rate_limit_error"
  | "server_error";

/** The one table from an error's `code` to its HTTP status and OpenAI error type. Unlisted codes are 500s. */
export const HTTP_ERRORS: Readonly<Record<string, { status: number; type: OpenAiErrorType }>> = {
  INVALID_INPUT: { status: 400, type: "invalid_request_error" },
  INVALID_JSON: { status: 400, type: "invalid_request_error" },
  CANONICAL_JSON: { status: 400, type: "invalid_request_error" },
  JSON_TOO_DEEP: { status: 400, type: "invalid_request_error" },
  INVALID_UNICODE: { status: 400, type: "invalid_request_error" },
  PROMPT_TOO_LONG: { status: 400, type: "invalid_request_error" },
  INVALID_BLOB_ID: { status: 400, type: "invalid_request_error" },
  INVALID_SIGNATURE: { status: 401, type: "authentication_error" },
  STACK_EXHAUSTED: { status: 402, type: "insufficient_quota" },
  STACK_NOT_SERVED: { status: 403, type: "permission_error" },
  UNKNOWN_STACK: { status: 404, type: "not_found_error" },
  UNKNOWN_MODEL: { status: 404, type: "not_found_error" },
  BLOB_NOT_FOUND: { status: 404, type: "not_found_error" },
  ROUTE_NOT_FOUND: { status: 404, type: "not_found_error" },
  NONCE_REUSED: { status: 409, type: "conflict_error" },
  STACK_CLOSED: { status: 409, type: "conflict_error" },
  STACK_EXPIRED: { status: 410, type: "invalid_request_error" },
  REQUEST_TOO_LARGE: { status: 413, type: "invalid_request_error" },
  BLOB_TOO_LARGE: { status: 413, type: "invalid_request_error" },
  QUEUE_FULL: { status: 429, type: "rate_limit_error" },
  SHUTTING_DOWN: { status: 503, type: "server_error" },
};

/** The body every error response has: OpenAI's shape. */
export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string };
}

export interface HttpError {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
  /** False for errors whose text is withheld (internal failures): log them. */
  expected: boolean;
}

const body = (message: string, type: OpenAiErrorType, code: string): OpenAiErrorBody => ({
  error: { message, type, param: null, code: code.toLowerCase() },
});

/**
 * Maps any thrown value to the response it deserves. Listed Atoma errors show their short message; anything
 * else becomes a 500 whose text is withheld (it may hold internals), to be logged by the caller.
 */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof AtomaError) {
    const mapped = HTTP_ERRORS[error.code];
    if (mapped) {
      const headers: Record<string, string> = {};
      if (error instanceof QueueFullError)
        headers["retry-after"] = String(Math.max(1, error.retryAfterSeconds));
      if (error.code === "SHUTTING_DOWN") headers.connection = "close";
      return {
        status: mapped.status,
        body: body(error.shortMessage, mapped.type, error.code),
        headers,
        expected: true,
      };
    }
  }
  if (error instanceof HTTPException && error.status < 500) {
    const status = error.status;
    const type: OpenAiErrorType = status === 404 ? "not_found_error" : "invalid_request_error";
    return {
      status,
      body: body(error.message || "bad request", type, `http_${status}`),
      headers: {},
      expected: true,
    };
  }
  return {
    status: 500,
    body: body("internal error", "server_error", "internal_error"),
    headers: {},
    expected: false,
  };
}
