import { disputeManagerAbi, settlementManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface RevealSettlementParams {
  stackId: bigint;
  /** For each sampled index, in order: the request hash, the response hash, and the leaf's Merkle proof. */
  reqHashes: readonly Hash[];
  respHashes: readonly Hash[];
  proofs: readonly (readonly Hash[])[];
}

export type RevealSettlementResult = TxInfo & {
  agreeing: bigint[];
  dissenting: bigint[];
} & (
    | { outcome: "accepted"; windowEnds: bigint }
    | { outcome: "disputed"; disputeId: bigint; evidenceDeadline: bigint }
  );

/** The server reveals the sampled responses; the contract compares them with the attesters' commitments. */
export async function revealSettlement(
  ctx: ChainContext,
  params: RevealSettlementParams,
): Promise<RevealSettlementResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "reveal",
    args: [params.stackId, params.reqHashes, params.respHashes, params.proofs],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SettlementRevealed" }),
    "SettlementRevealed",
  );
  const base = { ...txInfo(receipt), agreeing: [...args.agreeing], dissenting: [...args.dissenting] };
  const [disputed] = parseEventLogs({
    abi: disputeManagerAbi,
    logs: receipt.logs,
    eventName: "DisputeCreated",
  });
  if (disputed) {
    // The committee is drawn later (from a block after this one), once the server has posted its evidence.
    return {
      ...base,
      outcome: "disputed",
      disputeId: disputed.args.disputeId,
      evidenceDeadline: disputed.args.evidenceDeadline,
    };
  }
  const accepted = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SettlementAccepted" }),
    "SettlementAccepted",
  );
  return { ...base, outcome: "accepted", windowEnds: accepted.args.windowEnds };
}
