import { existsSync } from "node:fs";
import {
  NetworkDescriptionError,
  parseNetwork,
  type VerifyChain,
  verifyChainFromRpc,
  verifyChainOf,
} from "@atoma/sdk";
import { CliUsageError } from "../errors.js";
import { loadNetwork } from "./userChain.js";

/**
 * The chain `atoma verify` reads, from `--network`: an RPC URL (with the StackManager's address, from which the
 * other contracts are read), atoma dev's `ready {json}` line or its JSON given inline, or a file holding either.
 */
export async function loadVerifyChain(
  network: string | undefined,
  stackManager: string | undefined,
): Promise<VerifyChain> {
  const value = network ?? process.env.ATOMA_NETWORK;
  if (value !== undefined && /^https?:\/\//.test(value)) {
    const address = stackManager ?? process.env.ATOMA_STACK_MANAGER;
    if (address === undefined)
      throw new CliUsageError(
        "with an RPC URL as --network, give --stack-manager <address> (or ATOMA_STACK_MANAGER)",
      );
    try {
      return await verifyChainFromRpc(value, address);
    } catch (error) {
      throw new CliUsageError(
        `the RPC URL does not answer with a StackManager at ${address} (${error instanceof Error ? error.message.split("\n")[0] : "failed"})`,
      );
    }
  }
  const inline = value?.trimStart();
  if (
    inline !== undefined &&
    (inline.startsWith("ready ") || inline.startsWith("{")) &&
    !existsSync(value!)
  ) {
    try {
      return verifyChainOf(parseNetwork(inline, "the --network value"));
    } catch (error) {
      if (error instanceof NetworkDescriptionError) throw new CliUsageError(error.shortMessage);
      throw error;
    }
  }
  return verifyChainOf(loadNetwork(value));
}
