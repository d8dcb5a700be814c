import { settlementManagerAbi } from "@atoma/contracts";
import type { Hash, RecomputedSample } from "@atoma/core";
import { parseEventLogs } from "viem";
import { attestationCommitment, attestationResult } from "../commitments.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface CommitAttestationParams {
  stackId: bigint;
  /** The attester's node id. */
  nodeId: bigint;
  /** What the attester recomputed for the sampled indices, in their order: response hashes and units. */
  sample: RecomputedSample;
  /**
   * The commitment's secret salt (32 unpredictable bytes): kept until the attester opens its commitment after the
   * server's reveal (`openAttestation`), and never shown before, so no peer can test the commitment against the
   * server's claimed result.
   */
  salt: Hash;
}

/**
 * An attester commits to what it recomputed, H(nodeId, result, salt); the result says whether this opened the
 * reveal, and carries the attestation result the attester opens with later.
 */
export async function commitAttestation(
  ctx: ChainContext,
  params: CommitAttestationParams,
): Promise<TxInfo & { commitment: Hash; result: Hash; revealDeadline: bigint | undefined }> {
  const result = attestationResult(params.sample);
  const commitment = attestationCommitment(params.nodeId, result, params.salt);
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
  return { ...txInfo(receipt), commitment, result, revealDeadline: opened?.args.revealDeadline };
}
