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
  const sent = await sendAttestationCommitment(ctx, {
    stackId: params.stackId,
    nodeId: params.nodeId,
    commitment,
  });
  return { ...sent, commitment, result };
}

/**
 * Sends a commitment made already (one kept from an earlier attempt, or a strategy's own): the transaction, and
 * the reveal deadline when this commitment was the last one and opened the reveal.
 */
export async function sendAttestationCommitment(
  ctx: ChainContext,
  params: { stackId: bigint; nodeId: bigint; commitment: Hash },
): Promise<TxInfo & { revealDeadline: bigint | undefined }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "commitAttestation",
    args: [params.stackId, params.nodeId, params.commitment],
  });
  const [opened] = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "RevealOpened",
  });
  return { ...txInfo(receipt), revealDeadline: opened?.args.revealDeadline };
}
