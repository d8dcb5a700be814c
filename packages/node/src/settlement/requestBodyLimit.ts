import { readMaxRequestBytes } from "@atoma/chain";
import type { Address } from "viem";
import type { NodeConfig } from "../config/loadConfig.js";
import type { NodeChainClient } from "../service/chainClient.js";

/**
 * The largest request body the API accepts: `limits.maxBodyBytes`, lowered to the on-chain bound
 * (`SettlementEvidence.maxRequestBytes`) when the deployment names it. A request the node signs may have to be
 * posted on-chain if an attester says it cannot fetch the transcript; one over the bound could not be, and the
 * honest server would be failed for withholding it.
 */
export async function requestBodyLimit(config: NodeConfig, chain: NodeChainClient): Promise<number> {
  const evidence = config.chain.contracts.SettlementEvidence as Address | undefined;
  if (!evidence) return config.limits.maxBodyBytes;
  const bound = await readMaxRequestBytes({
    publicClient: chain,
    addresses: { SettlementEvidence: evidence },
  });
  return Math.min(config.limits.maxBodyBytes, bound);
}
