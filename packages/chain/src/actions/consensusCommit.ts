import { consensusRequestsAbi } from "@atoma/contracts";
import { consensusLeaf, consensusRoot, consensusSeal } from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/** What a seat computed, and the salt that keeps its seal closed until it reveals. */
export interface ConsensusSeatResult {
  requestId: bigint;
  /** The seat's 1-based index. */
  index: number;
  n: number;
  output: Hex;
  units: bigint;
  /** 32 random bytes, kept until the reveal. */
  salt: Hex;
}

export type ConsensusRoundOutcome = "waiting" | "agreed" | "disputed" | "failed";

function commitment(params: ConsensusSeatResult) {
  const root = consensusRoot(params.output, params.units, params.n);
  const leaf = consensusLeaf(params.output, params.units, params.index, params.n);
  return { root, leaf };
}

/** Seals the seat's result: nothing of it is readable until the seat reveals. */
export async function sealConsensusResult(ctx: ChainContext, params: ConsensusSeatResult): Promise<TxInfo> {
  const { root, leaf } = commitment(params);
  const seal = consensusSeal({
    requestId: params.requestId,
    index: params.index,
    root,
    leaf,
    salt: params.salt,
  });
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "sealResult",
    args: [params.requestId, BigInt(params.index), seal],
  });
  return txInfo(receipt);
}

/** Opens the seat's seal (once every seat sealed or the seal window closed); the last reveal closes the round. */
export async function revealConsensusResult(
  ctx: ChainContext,
  params: ConsensusSeatResult,
): Promise<TxInfo & { outcome: ConsensusRoundOutcome }> {
  const { root, leaf } = commitment(params);
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "revealResult",
    args: [params.requestId, BigInt(params.index), root, leaf, params.salt],
  });
  return { ...txInfo(receipt), outcome: roundOutcome(receipt.logs) };
}

/**
 * Closes a round past its seal window (every sealed seat revealed) or its reveal window: the seats that never
 * sealed lose the timeout share, those that sealed and did not reveal all their collateral.
 */
export async function closeConsensusRound(
  ctx: ChainContext,
  params: { requestId: bigint },
): Promise<TxInfo & { outcome: ConsensusRoundOutcome }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "closeRound",
    args: [params.requestId],
  });
  return { ...txInfo(receipt), outcome: roundOutcome(receipt.logs) };
}

function roundOutcome(logs: Parameters<typeof parseEventLogs>[0]["logs"]): ConsensusRoundOutcome {
  const has = (eventName: "ConsensusReached" | "ConsensusDisputed" | "ConsensusFailed") =>
    parseEventLogs({ abi: consensusRequestsAbi, logs, eventName }).length > 0;
  if (has("ConsensusReached")) return "agreed";
  if (has("ConsensusDisputed")) return "disputed";
  if (has("ConsensusFailed")) return "failed";
  return "waiting";
}
