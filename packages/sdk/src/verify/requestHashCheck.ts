import { canonicalJson, type Hash, requestHash } from "@atoma/core";
import type { Check } from "./verdict.js";
import type { VerifyArguments } from "./verifyArguments.js";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const message = (error: unknown) => (error instanceof Error ? error.message.split("\n")[0] : String(error));

const fail = (reason: string): Check => ({
  name: "request_hash",
  status: "fail",
  code: "request_hash_mismatch",
  reason,
});

/**
 * Why the body a gateway signed (`atoma_request`) is not the client's body with only what a gateway may change:
 * `max_tokens` added where the client named no limit, `stream: false` added where it named none, its own
 * `provider` field removed. Undefined when nothing else differs.
 */
export function gatewayChangeOf(client: Json, signed: Json): string | undefined {
  const { provider: _provider, ...rest } = client;
  const expected: Json = { ...rest };
  const namedLimit = client.max_tokens != null || client.max_completion_tokens != null;
  if (!namedLimit && signed.max_tokens !== undefined) {
    if (!Number.isSafeInteger(signed.max_tokens) || (signed.max_tokens as number) < 1)
      return "the gateway set max_tokens to something other than a positive whole number";
    expected.max_tokens = signed.max_tokens;
  }
  if (client.stream === undefined && signed.stream === false) expected.stream = false;
  return canonicalJson(expected) === canonicalJson(signed)
    ? undefined
    : "the body signed differs from the request given beyond an added max_tokens and a removed provider";
}

/**
 * The request hash: without the request body, not checked (the answer is then bound to no question), though an
 * `atoma_request` the response carries must hash to the receipt's request hash. With it,
 * when the response carries the body a gateway signed (`atoma_request`), that body must hash to the receipt's
 * request hash and be the given body up to what a gateway may change (`gatewayChangeOf`); otherwise the given
 * body itself must hash to it.
 */
export function requestHashCheck(args: VerifyArguments, signed: Hash): Check {
  const relayed = args.response.atoma_request;
  if (!args.request.given) {
    // The body a gateway says it signed must at least be the one the receipt is for.
    if (relayed !== undefined) {
      let carried: Hash | undefined;
      try {
        carried = isRecord(relayed) ? requestHash(relayed) : undefined;
      } catch {
        carried = undefined;
      }
      if (carried === undefined || !same(carried, signed))
        return fail("the receipt is for another request than the atoma_request the answer carries");
    }
    return {
      name: "request_hash",
      status: "not_checked",
      reason: `give the request body as sent: until then the answer is bound to no question${relayed === undefined ? "" : " (the atoma_request it carries is what the receipt is for)"}`,
    };
  }
  try {
    if (relayed !== undefined) {
      if (!isRecord(relayed) || !isRecord(args.request.body))
        return fail("atoma_request and the request given must both be JSON objects");
      if (!same(requestHash(relayed), signed))
        return fail("the receipt is for another request than the atoma_request the answer carries");
      const change = gatewayChangeOf(args.request.body, relayed);
      return change === undefined
        ? {
            name: "request_hash",
            status: "pass",
            reason: "the receipt is for the request given (as the gateway sent it)",
          }
        : fail(change);
    }
    if (!same(requestHash(args.request.body), signed))
      return fail("the receipt is for another request than the one given");
  } catch (error) {
    return fail(`the request given cannot be hashed: ${message(error)}`);
  }
  return { name: "request_hash", status: "pass", reason: "the receipt is for the request given" };
}
