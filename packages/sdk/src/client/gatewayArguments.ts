import type { Address } from "viem";
import { ClientArgumentError } from "../errors.js";
import { NetworkDescriptionError, parseNetwork } from "../network.js";
import { verifyChainProblem } from "../verify/verifyArguments.js";
import type { GatewayClientOptions } from "./atomaClient.js";
import { checkAddress, checkHttpUrl, checkStreamLimits } from "./clientArguments.js";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A chain to verify against, checked as far as it can be without a read: a `VerifyChain`'s client and addresses,
 * a network's text, or `{ rpcUrl, contracts, chainId? }`. Throws `ClientArgumentError` (or
 * `NetworkDescriptionError` for a network's text), so that a bad chain fails before a request is sent and paid.
 */
export function checkChainInput(chain: unknown, name: string): void {
  if (typeof chain === "string") {
    parseNetwork(chain, `the ${name}'s network`);
    return;
  }
  if (!isRecord(chain))
    throw new ClientArgumentError(
      `${name} must be verifyChainOf(network), a network file's text, or { rpcUrl, contracts }`,
    );
  if ("publicClient" in chain) {
    const problem = verifyChainProblem(chain, name);
    if (problem !== undefined) throw new ClientArgumentError(problem);
    return;
  }
  checkHttpUrl(chain.rpcUrl, `${name}.rpcUrl`);
  // The chain id, when absent, is read from the RPC later: a stand-in lets the rest be checked now.
  const described = { ...chain, chainId: chain.chainId ?? 1 };
  try {
    parseNetwork(JSON.stringify(described), name);
  } catch (error) {
    if (error instanceof NetworkDescriptionError) throw new ClientArgumentError(error.message);
    throw error;
  }
}

/** What a gateway client checks answers against, normalised. */
export interface GatewayBinding {
  /** The wallet the answers' stacks must belong to, when given; else asked of the gateway (`GET /v1/gateway`). */
  gatewayAddress: Address | undefined;
  securityLevel: number | undefined;
}

/** Checks a gateway client's options (all of them) before anything is sent; throws `ClientArgumentError`. */
export function checkGatewayOptions(options: GatewayClientOptions): GatewayBinding {
  const { gateway } = options;
  if (typeof gateway !== "object" || gateway === null)
    throw new ClientArgumentError("gateway must be { url, apiKey }");
  checkHttpUrl(gateway.url, "gateway.url");
  if (typeof gateway.apiKey !== "string" || !/^[\x21-\x7e]{1,512}$/.test(gateway.apiKey))
    throw new ClientArgumentError("gateway.apiKey must be the API key's text");
  if (options.verify !== undefined && options.verify !== false)
    throw new ClientArgumentError("verify may only be false (to trust the gateway, with no chain)");
  if (options.chain !== undefined && options.verify === false)
    throw new ClientArgumentError("verify: false and a chain contradict each other: give one");
  if (options.chain === undefined && options.verify !== false)
    throw new ClientArgumentError(
      "give chain (to check every answer's receipt on-chain), or verify: false to trust the gateway unchecked",
    );
  if (options.chain !== undefined) checkChainInput(options.chain, "chain");
  checkStreamLimits(options.streamLimits);
  const bound = options.gatewayAddress !== undefined || options.securityLevel !== undefined;
  if (bound && options.chain === undefined)
    throw new ClientArgumentError(
      "gatewayAddress and securityLevel are checked against the chain: give chain too",
    );
  const level = options.securityLevel;
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 3))
    throw new ClientArgumentError("securityLevel must be 0, 1, 2 or 3");
  if (options.fetch !== undefined && typeof options.fetch !== "function")
    throw new ClientArgumentError("fetch must be a function");
  return {
    gatewayAddress:
      options.gatewayAddress === undefined
        ? undefined
        : checkAddress(options.gatewayAddress, "gatewayAddress"),
    securityLevel: level,
  };
}
