import { atomaDomain, type SignedResponseFields, signResponse, toReceipt } from "@atoma/core";
import type { Hex, LocalAccount } from "viem";
import type { DevNetwork } from "./devNetwork.js";
import type { Relay, RequestHeaders } from "./relay.js";

/**
 * Makes `relay` answer chat requests on `target.stack` (only the one at `atNonce` when given: nonce 1 is the first a
 * restarted client sends on the stack it reuses) with a 402 and, once set, the `target.refusal` body: a node calling
 * the stack exhausted.
 */
export function refuseStackAsExhausted(relay: Relay, atNonce?: string) {
  const target: { stack?: string; refusal?: string } = {};
  const forging = (path: string, headers: RequestHeaders) =>
    path.startsWith("/v1/chat") &&
    headers["x-atoma-stack"] === target.stack &&
    (atNonce === undefined || headers["x-atoma-nonce"] === atNonce);
  relay.rewrite = (body, path, headers) => (forging(path, headers) && target.refusal ? target.refusal : body);
  relay.statusOf = (status, path, headers) => (forging(path, headers) ? 402 : status);
  return target;
}

/** A `stack_exhausted` refusal whose receipt is `fields` signed on the spot by node `nodeId`'s own `key`. */
export async function signedExhaustedRefusal(
  dev: DevNetwork,
  nodeId: string,
  key: LocalAccount,
  fields: SignedResponseFields,
): Promise<string> {
  const domain = atomaDomain(dev.ready.chainId, dev.ready.contracts.StackManager as Hex);
  return JSON.stringify({
    error: { message: "stack exhausted", type: "insufficient_quota", code: "stack_exhausted" },
    atoma: toReceipt(BigInt(nodeId), fields, await signResponse(key, domain, fields)),
  });
}
