import { type HexString, type ResponseSealer, SEALED_ERROR_OBJECT, toHex } from "@atoma/confidential";
import type { HttpError, OpenAiErrorBody } from "../http/errorResponse.js";

/** The only text of a sealed request's error that travels in clear. */
export const SEALED_ERROR_MESSAGE = "the request failed; its reason is sealed to the client (sealed)";

/** A sealed request's error as it goes out: the clear status, type and code, the full error sealed. */
export interface SealedErrorBody {
  object: typeof SEALED_ERROR_OBJECT;
  error: OpenAiErrorBody["error"];
  /** The answer's next chunk (final): the full OpenAI error body. Absent when the answer was sealed already. */
  sealed?: HexString;
}

/**
 * An error raised after a sealed request opened: its message and `param` may quote the request (tool names, schema
 * paths, an upstream's echo of the prompt), so they go to the client sealed, as the answer's final chunk, and only
 * the `type` and stable `code` stay in clear (the gateway and the SDK still act on them; the status and headers are
 * unchanged). When the sealer has already sealed its final chunk (a failure after the answer was sealed), nothing
 * more can be sealed: the clear part alone goes out.
 */
export function sealedErrorBody(sealer: ResponseSealer, mapped: HttpError): SealedErrorBody {
  const clear: SealedErrorBody = {
    object: SEALED_ERROR_OBJECT,
    error: {
      message: SEALED_ERROR_MESSAGE,
      type: mapped.body.error.type,
      param: null,
      code: mapped.body.error.code,
    },
  };
  try {
    return {
      ...clear,
      sealed: toHex(sealer.seal(new TextEncoder().encode(JSON.stringify(mapped.body)), true)),
    };
  } catch {
    return clear;
  }
}
