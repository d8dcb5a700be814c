import { type AtomaPublicClient, createAtomaPublicClient } from "@atoma/chain";
import { redactUrl } from "../config/redact.js";
import { ChainUnavailableError } from "../errors.js";

/** The node's read client of the settlement chain (listener, health, and the parts' contract reads). */
export type NodeChainClient = AtomaPublicClient;

export function createNodeChainClient(options: {
  rpcUrl: string;
  chainId: number;
  pollingIntervalMs: number;
}): NodeChainClient {
  return createAtomaPublicClient({
    rpcUrl: options.rpcUrl,
    chainId: options.chainId,
    pollingInterval: Math.min(options.pollingIntervalMs, 1_000),
  });
}

/** Throws `ChainUnavailableError` unless the endpoint answers with the configured chain id. */
export async function assertChain(client: NodeChainClient, rpcUrl: string, chainId: number): Promise<void> {
  let actual: number;
  try {
    actual = await client.getChainId();
  } catch (cause) {
    throw new ChainUnavailableError(`the chain at ${redactUrl(rpcUrl)} (chain.rpcUrl) does not answer`, {
      cause,
    });
  }
  if (actual !== chainId)
    throw new ChainUnavailableError(
      `the chain at ${redactUrl(rpcUrl)} is chain ${actual}, but chain.chainId is ${chainId}`,
    );
}
