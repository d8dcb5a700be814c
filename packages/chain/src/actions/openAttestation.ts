import { disputeManagerAbi, settlementManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs, type TransactionReceipt } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface OpenAttestationParams {
  stackId: bigint;
  /** The attester's node id. */
  nodeId: bigint;
  /** The attestation result it committed to (`attestationResult` of what it recomputed). */
  result: Hash;
  /** The salt it committed with. */
  salt: Hash;
}

/**
 * How the openings compared with the server's revealed result, once every attester still assigned opened (or the
 * silent ones were timed out): all agreed (accepted), some dissented (a dispute), or none opened (the work was
 * never checked: `SettlementFailed` with `FAIL_UNVERIFIABLE`).
 */
export type AttestationComparison = { agreeing: bigint[]; dissenting: bigint[] } & (
  | { outcome: "accepted"; windowEnds: bigint }
  | { outcome: "disputed"; disputeId: bigint; evidenceDeadline: bigint }
  | { outcome: "unverifiable" }
);

/** The comparison a transaction concluded (`AttestationsCompared`), if it did. */
export function attestationComparison(receipt: TransactionReceipt): AttestationComparison | undefined {
  const logs = receipt.logs;
  const [compared] = parseEventLogs({ abi: settlementManagerAbi, logs, eventName: "AttestationsCompared" });
  if (!compared) return undefined;
  const sides = { agreeing: [...compared.args.agreeing], dissenting: [...compared.args.dissenting] };
  const [disputed] = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "DisputeCreated" });
  if (disputed) {
    // The committee is drawn later (from a block after this one), once the server has posted its evidence.
    return {
      ...sides,
      outcome: "disputed",
      disputeId: disputed.args.disputeId,
      evidenceDeadline: disputed.args.evidenceDeadline,
    };
  }
  const [accepted] = parseEventLogs({ abi: settlementManagerAbi, logs, eventName: "SettlementAccepted" });
  if (accepted) return { ...sides, outcome: "accepted", windowEnds: accepted.args.windowEnds };
  return { ...sides, outcome: "unverifiable" };
}

/**
 * What the last opening can cost beyond one that is not the last: comparing the openings, and opening a dispute
 * with every attester as a party (measured: about 605,000 gas with one attester; bench/gas.ts
 * `gas_SettlementManager_openAttestation_disputed`). Attesters of one settlement open concurrently, so any of
 * them may turn out to be the last.
 */
const CONCLUDE_GAS = 800_000n;

/**
 * After the server's reveal, an attester opens its commitment: its result and salt. A result that is the server's
 * agrees; any other dissents. The last opening compares them all (`compared`).
 */
export async function openAttestation(
  ctx: ChainContext,
  params: OpenAttestationParams,
): Promise<TxInfo & { agreed: boolean; compared: AttestationComparison | undefined }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "openAttestation",
    args: [params.stackId, params.nodeId, params.result, params.salt],
    extraGas: CONCLUDE_GAS,
  });
  const compared = attestationComparison(receipt);
  const agreed = compared
    ? compared.agreeing.includes(params.nodeId)
    : (await ctx.publicClient.readContract({
        address: ctx.addresses.SettlementManager,
        abi: settlementManagerAbi,
        functionName: "revealedResult",
        args: [params.stackId],
      })) === params.result;
  return { ...txInfo(receipt), agreed, compared };
}
