import { consensusRequestsAbi } from "@atoma/contracts";
import { costOfUnits } from "@atoma/core";
import { type Hex, parseEventLogs, type TransactionReceipt } from "viem";
import { ContractRevertError, TooFewForCommitteeError } from "../errors.js";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface SubmitConsensusRequestParams {
  taskId: bigint;
  prompt: Hex;
  n: number;
  maxUnits: bigint;
  maxPricePerMillion: bigint;
  echelon: number;
  /** Gas given to the requester's `onAtomaResult`; 0 for none. */
  callbackGas: number;
  /**
   * Draw the seats right after (a second transaction, necessarily in a later block). @default true. Without it
   * the request waits for anyone, the task's nodes included, to call `drawSeats`.
   */
  draw?: boolean | undefined;
}

export interface DrawnSeats {
  nodeIds: bigint[];
  sealDeadline: bigint;
  revealDeadline: bigint;
}

/**
 * Asks n nodes for the output of a prompt (the context's account pays and receives the callback), then draws its
 * seats unless told not to. `seats` is undefined when the draw was left to others or the request failed at it (too
 * few candidates left holding collateral, or too few other nodes left in the echelon for a dispute committee: the
 * escrow is refunded). Throws TooFewForCommitteeError when the echelon's pool of the task, at any price, is smaller
 * than n plus the dispute committee minimum (nothing is escrowed).
 */
export async function submitConsensusRequest(
  ctx: ChainContext,
  params: SubmitConsensusRequestParams,
): Promise<
  TxInfo & { requestId: bigint; drawBlock: bigint; candidates: bigint[]; seats: DrawnSeats | undefined }
> {
  await ensureAllowance(
    ctx,
    ctx.addresses.AtomaVault,
    BigInt(params.n) * costOfUnits(params.maxUnits, params.maxPricePerMillion),
  );
  let receipt: TransactionReceipt;
  try {
    receipt = await execute(ctx, {
      address: ctx.addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      functionName: "submitRequest",
      args: [
        params.taskId,
        params.prompt,
        params.n,
        params.maxUnits,
        params.maxPricePerMillion,
        params.echelon,
        params.callbackGas,
      ],
    });
  } catch (error) {
    if (error instanceof ContractRevertError && error.errorName === "TooFewForCommittee") {
      const [available, needed] = error.args as [bigint, bigint];
      throw new TooFewForCommitteeError(params.taskId, params.echelon, params.n, available, needed, {
        cause: error,
      });
    }
    throw error;
  }
  const { args } = single(
    parseEventLogs({ abi: consensusRequestsAbi, logs: receipt.logs, eventName: "ConsensusRequested" }),
    "ConsensusRequested",
  );
  const submitted = {
    ...txInfo(receipt),
    requestId: args.requestId,
    drawBlock: args.drawBlock,
    candidates: [...args.candidates],
  };
  if (params.draw === false) return { ...submitted, seats: undefined };
  const drawn = await drawConsensusSeats(ctx, {
    requestId: args.requestId,
    candidates: submitted.candidates,
  });
  return { ...submitted, seats: drawn.outcome === "drawn" ? drawn.seats : undefined };
}

export type DrawOutcome =
  | { outcome: "drawn"; seats: DrawnSeats }
  | { outcome: "rearmed"; drawBlock: bigint }
  | { outcome: "failed"; refunded: bigint };

/**
 * Draws a request's seats from the hash of the block it was recorded in (anyone may, from the next block on), among
 * the candidates its `ConsensusRequested` event named (read from that event, searched from `fromBlock`, when not
 * given). When someone else drew them first, reads the seats that were drawn (`tx` is then undefined).
 */
export async function drawConsensusSeats(
  ctx: ChainContext,
  params: { requestId: bigint; candidates?: readonly bigint[] | undefined; fromBlock?: bigint | undefined },
): Promise<DrawOutcome & { tx: TxInfo | undefined }> {
  const candidates =
    params.candidates ?? (await readCandidates(ctx, params.requestId, params.fromBlock ?? 0n));
  let receipt: TransactionReceipt;
  try {
    receipt = await execute(ctx, {
      address: ctx.addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      functionName: "drawSeats",
      args: [params.requestId, candidates],
      blockTag: "pending",
    });
  } catch (error) {
    if (error instanceof ContractRevertError && error.errorName === "WrongStatus")
      return { ...(await readDrawnSeats(ctx, params.requestId)), tx: undefined };
    throw error;
  }
  return { ...drawOutcome(receipt), tx: txInfo(receipt) };
}

function drawOutcome(receipt: TransactionReceipt): DrawOutcome {
  const logs = receipt.logs;
  const [drawn] = parseEventLogs({ abi: consensusRequestsAbi, logs, eventName: "SeatsDrawn" });
  if (drawn)
    return {
      outcome: "drawn",
      seats: {
        nodeIds: [...drawn.args.nodeIds],
        sealDeadline: drawn.args.sealDeadline,
        revealDeadline: drawn.args.revealDeadline,
      },
    };
  const [failed] = parseEventLogs({ abi: consensusRequestsAbi, logs, eventName: "ConsensusFailed" });
  if (failed) return { outcome: "failed", refunded: failed.args.refunded };
  const { args } = single(
    parseEventLogs({ abi: consensusRequestsAbi, logs, eventName: "DrawRearmed" }),
    "DrawRearmed",
  );
  return { outcome: "rearmed", drawBlock: args.drawBlock };
}

async function readCandidates(
  ctx: ChainContext,
  requestId: bigint,
  fromBlock: bigint,
): Promise<readonly bigint[]> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ConsensusRequested",
    args: { requestId },
    fromBlock,
    strict: true,
  });
  return single(logs, "ConsensusRequested").args.candidates;
}

async function readDrawnSeats(ctx: ChainContext, requestId: bigint): Promise<DrawOutcome> {
  const read = {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    args: [requestId],
  } as const;
  const [request, seats] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "getRequest" }),
    ctx.publicClient.readContract({ ...read, functionName: "seatsOf" }),
  ]);
  if (seats.length === 0) return { outcome: "failed", refunded: 0n };
  return {
    outcome: "drawn",
    seats: {
      nodeIds: seats.map((seat) => seat.nodeId),
      sealDeadline: request.sealDeadline,
      revealDeadline: request.revealDeadline,
    },
  };
}
