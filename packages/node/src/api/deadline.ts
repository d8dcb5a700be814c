import type { Context } from "hono";
import type { StackApi } from "./apiContext.js";
import { checkDeadline } from "./envelope.js";
import { answerResendOr } from "./resend.js";
import type { SignedRequest } from "./signedRequest.js";

/**
 * Refuses a request outside its signed deadline (`RequestExpiredError`, 401), unless it resends one answered before
 * the deadline (a slow restart): that gets its stored answer. Undefined when the request goes on.
 */
export async function checkDeadlineOrResend(
  api: StackApi,
  c: Context,
  signed: SignedRequest,
): Promise<Response | undefined> {
  try {
    checkDeadline(signed.envelope, BigInt(Math.floor(api.now() / 1000)), api.limits.maxDeadlineAheadSeconds);
    return undefined;
  } catch (error) {
    return answerResendOr(api, c, signed, error);
  }
}
