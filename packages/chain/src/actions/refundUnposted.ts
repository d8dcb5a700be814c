import { attestationRegistryAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";
import type { ServedEvidence } from "./reportUnposted.js";

/**
 * Refunds the buyer of a level-3 stack the node served during the epoch of a statement it lied in (evidence it
 * never posted for that epoch), once the stack's settlement is finalized: the node is slashed once more as for a
 * timeout, the stack's owner taking the user's share (at most what the stack paid for its settled units) whoever
 * calls, and its record is revoked and its posts banned as by `reportUnposted`. Once per stack and statement. While
 * the settlement is disputed (inside the claim window) the call only records the claim (event `RefundClaimed`, no
 * slash): call again once it is finalized, however late. Refunds of one stack, all statements together, never
 * exceed what it paid (`StackNotPaid` once used up).
 * Reverts with `StatementSignatureInvalid`, `EvidencePosted` (no lie), `StackNotServedUnder` (another node's
 * stack, not level 3, or not served during that epoch), `SettlementNotOver` (come back once it is finalized),
 * `StackNotPaid` (settled empty, failed or timed out), `RefundWindowClosed` or `StackRefunded`.
 */
export async function refundUnposted(
  ctx: ChainContext,
  statement: ServedEvidence & { signature: Hex; stackId: bigint },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "refundUnposted",
    args: [statement.nodeId, statement.epoch, statement.evidenceHash, statement.signature, statement.stackId],
  });
  return txInfo(receipt);
}
