import { settlementManagerAbi } from "@atoma/contracts";
import type { Hash, RecomputedSample } from "@atoma/core";
import { parseEventLogs } from "viem";
import { attestationCommitment } from "../commitments.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface CommitAttestationParams {
  stackId: bigint;
  /** The attester's node id. */
  nodeId: bigint;
  /** What the attester recomputed for the sampled indices, in their order: response hashes and units. */
  sample: RecomputedSample;
}

/** An attester commits to what it recomputed; the result says whether this opened the reveal. */
export async function commitAttestation(
  ctx: ChainContext,
  params: CommitAttestationParams,
): Promise<TxInfo & { commitment: Hash; revealDeadline: bigint | undefined }> {
  const commitment = attestationCommitment(params.nodeId, params.sample);
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "commitAttestation",
    args: [params.stackId, params.nodeId, commitment],
  });
  const [opened] = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "RevealOpened",
  });
  return { ...txInfo(receipt), commitment, revealDeadline: opened?.args.revealDeadline };
}
