import { settlementManagerAbi } from "@atoma/contracts";
import type { Hash, StackLeaf } from "@atoma/core";
import { encodeAbiParameters, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface RevealSettlementParams {
  stackId: bigint;
  /** The leaves at the sampled indices, in their order, with their stack-tree proofs. */
  sampled: readonly StackLeaf[];
  proofs: readonly (readonly Hash[])[];
  /** The stack's last leaf (its running total is the settled units), with its proof. */
  last: StackLeaf;
  lastProof: readonly Hash[];
}

const LEAF = {
  type: "tuple",
  components: [
    { name: "leafIndex", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "reqHash", type: "bytes32" },
    { name: "respHash", type: "bytes32" },
    { name: "units", type: "uint64" },
    { name: "cumulativeUnits", type: "uint64" },
  ],
} as const;

/** `RevealVerifier.Reveal`, ABI-encoded: what `SettlementManager.reveal` forwards to the verifier. */
export function encodeReveal(params: Omit<RevealSettlementParams, "stackId">): Hash {
  return encodeAbiParameters(
    [
      {
        type: "tuple",
        components: [
          { name: "sampled", type: "tuple[]", components: LEAF.components },
          { name: "proofs", type: "bytes32[][]" },
          { name: "last", ...LEAF },
          { name: "lastProof", type: "bytes32[]" },
        ],
      },
    ],
    [
      {
        sampled: [...params.sampled],
        proofs: params.proofs.map((proof) => [...proof]),
        last: params.last,
        lastProof: [...params.lastProof],
      },
    ],
  );
}

export type RevealSettlementResult = TxInfo & {
  /** What the reveal reduced to: H(abi.encode(respHashes, units)) of the sampled leaves. */
  result: Hash;
  /** The attesters open their commitments until then; silent ones are timed out after it. */
  openDeadline: bigint;
};

/**
 * The server reveals the sampled leaves and its last one; the contract checks them against the root (positions,
 * nonces, running totals). The attesters then open their commitments (`openAttestation`), and the last opening,
 * or the timeout of the silent ones, compares them with this result (accepted, or a dispute).
 */
export async function revealSettlement(
  ctx: ChainContext,
  params: RevealSettlementParams,
): Promise<RevealSettlementResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "reveal",
    args: [params.stackId, encodeReveal(params)],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SettlementRevealed" }),
    "SettlementRevealed",
  );
  return { ...txInfo(receipt), result: args.result, openDeadline: args.openDeadline };
}
