import { type Address, getAddress, isAddress } from "viem";
import { ResponseVerificationError } from "../errors.js";
import { readJsonCapped } from "../readBodyCapped.js";

const MAX_BYTES = 4096;

/**
 * The wallet a gateway says buys its stacks (`GET /v1/gateway`'s `buyer`): every answer it passes on must come from
 * a stack that address owns. Throws `ResponseVerificationError` when the gateway does not say (pass
 * `gatewayAddress` to `createAtomaClient` then); asked before any request is sent.
 */
export async function gatewayBuyer(fetcher: typeof fetch, base: string): Promise<Address> {
  let buyer: unknown;
  try {
    const answer = await fetcher(`${base}/v1/gateway`, { redirect: "error" });
    if (answer.ok) buyer = ((await readJsonCapped(answer, MAX_BYTES)) as { buyer?: unknown } | null)?.buyer;
    else await answer.body?.cancel();
  } catch {
    // told below
  }
  if (typeof buyer !== "string" || !isAddress(buyer))
    throw new ResponseVerificationError(
      "the gateway does not say which wallet buys its stacks (GET /v1/gateway): pass gatewayAddress to bind its answers to it",
    );
  return getAddress(buyer);
}
