import type { Context } from "hono";
import type { Address } from "viem";

/**
 * `GET /v1/gateway`: the wallet that buys this gateway's stacks and signs its requests. Every answer the gateway
 * passes on comes from a stack this address owns on-chain, so a client checks receipts against it (an answer from
 * another owner's stack is a replay). Public: the address is on-chain anyway.
 */
export function gatewayRoute(buyer: Address) {
  return (c: Context): Response => c.json({ object: "gateway", buyer });
}
