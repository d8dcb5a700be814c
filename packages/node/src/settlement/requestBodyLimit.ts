import { readMaxRequestBytes } from "@atoma/chain";
import type { NodeConfig } from "../config/loadConfig.js";
import { missingContracts, type NodeSeat } from "../service/nodeSeat.js";

/**
 * The largest request body the API accepts: `limits.maxBodyBytes`, lowered to the on-chain bound
 * (`SettlementEvidence.maxRequestBytes`) when the deployment names it. A request the node signs may have to be
 * posted on-chain if an attester says it cannot fetch the transcript; one over the bound could not be, and the
 * honest server would be failed for withholding it.
 */
export async function requestBodyLimit(config: NodeConfig, seat: NodeSeat): Promise<number> {
  if (missingContracts(seat, ["SettlementEvidence"]).length > 0) return config.limits.maxBodyBytes;
  return Math.min(config.limits.maxBodyBytes, await readMaxRequestBytes(seat));
}
