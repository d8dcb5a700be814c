import { createPublicClient, http } from "viem";
import { ClientArgumentError } from "../errors.js";
import { type Network, NetworkDescriptionError, parseNetwork } from "../network.js";
import type { VerifyChain } from "../verify/verifyArguments.js";
import { verifyChainOf } from "../verify/verifyChain.js";
import type { NetworkInput } from "./atomaClient.js";
import { checkHttpUrl } from "./clientArguments.js";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The network a client was given, checked as `parseNetwork` checks a file (`NetworkDescriptionError`); without a
 * chain id it is read from the RPC.
 */
export async function networkOf(input: NetworkInput): Promise<Network> {
  if (typeof input === "string") return parseNetwork(input, "the network");
  if (!isRecord(input))
    throw new ClientArgumentError(
      "network must be a network file's text, a Network, or { rpcUrl, contracts }",
    );
  let chainId = input.chainId;
  if (chainId === undefined) {
    const rpcUrl = checkHttpUrl(input.rpcUrl, "network.rpcUrl");
    chainId = await createPublicClient({ transport: http(rpcUrl) })
      .getChainId()
      .catch((error: unknown) => {
        throw new NetworkDescriptionError(
          `the RPC at ${rpcUrl} does not answer eth_chainId: ${String(error)}`,
        );
      });
  }
  return parseNetwork(JSON.stringify({ ...input, chainId }), "the network");
}

/** The chain to check receipts against: a `VerifyChain` as given, else the network it names. */
export async function verifyChainOfInput(input: VerifyChain | NetworkInput): Promise<VerifyChain> {
  if (isRecord(input) && "publicClient" in input) return input as unknown as VerifyChain;
  return verifyChainOf(await networkOf(input as NetworkInput));
}
