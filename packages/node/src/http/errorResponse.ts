import {
  AtomaError,
  type AtomaReceipt,
  isListedWireError,
  type OpenAiErrorType,
  STACK_HEADERS,
  WIRE_ERRORS,
  type WireErrorCode,
} from "@atoma/core";
import { HTTPException } from "hono/http-exception";
import { LeafReadsCrowdedError, NoLeafAtNonceError } from "../api/errors.js";
import { AttestationRateLimitedError } from "../confidential/errors.js";
import {
  LeafDeniedError,
  NonceOutOfOrderError,
  NonceReusedError,
  QueueFullError,
  StackExhaustedError,
} from "../errors.js";

/** The body every error response has: OpenAI's shape. */
export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: WireErrorCode };
  /** `stack_exhausted`: the stack's last leaf, signed, as proof of the units it holds. */
  atoma?: AtomaReceipt;
}

export interface HttpError {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
  /** False for errors whose text is withheld (internal failures): log them. */
  expected: boolean;
}

const body = (
  message: string,
  type: OpenAiErrorType,
  code: WireErrorCode,
  param: string | null = null,
): OpenAiErrorBody => ({
  error: { message, type, param, code },
});

/** The request field an error (or the engine error it stands for) names, as OpenAI's `param`. */
function paramOf(error: AtomaError): string | null {
  for (const candidate of [error, error.cause]) {
    const param = (candidate as { param?: unknown } | undefined)?.param;
    if (typeof param === "string") return param;
  }
  return null;
}

/**
 * Maps any thrown value to the response it deserves. Listed Atoma errors show their short message; anything
 * else becomes a 500 whose text is withheld (it may hold internals), to be logged by the caller.
 */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof AtomaError) {
    if (isListedWireError(error.code)) {
      const mapped = WIRE_ERRORS[error.code];
      const headers: Record<string, string> = {};
      if (
        error instanceof QueueFullError ||
        error instanceof AttestationRateLimitedError ||
        error instanceof LeafReadsCrowdedError
      )
        headers["retry-after"] = String(Math.max(1, error.retryAfterSeconds));
      if (error.code === "shutting_down") headers.connection = "close";
      // The stack's next nonce, so an owner's client whose count drifted can sign again with the right one.
      if (
        (error instanceof NonceOutOfOrderError || error instanceof NonceReusedError) &&
        error.next !== undefined
      )
        headers[STACK_HEADERS.nextNonce] = error.next.toString();
      const proof =
        error instanceof StackExhaustedError && error.receipt
          ? { atoma: error.receipt }
          : (error instanceof NoLeafAtNonceError || error instanceof LeafDeniedError) && error.denial
            ? { denial: error.denial }
            : {};
      return {
        status: mapped.status,
        body: { ...body(error.shortMessage, mapped.type, error.code, paramOf(error)), ...proof },
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
