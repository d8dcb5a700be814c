import { getSettlement, SettlementPhase, type SubmitSettlementParams } from "@atoma/chain";
import { freezeForSettlement } from "../accounting/freezeForSettlement.js";
import type { BlobStore } from "../blobs/blobStore.js";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeSeat } from "../service/nodeSeat.js";
import { buildSettlement } from "./buildSettlement.js";
import { updateSettlement } from "./settlementRows.js";

export type PreparedSubmission =
  | { status: "ready"; params: SubmitSettlementParams }
  /** The chain already holds this settlement (sent before a crash): nothing to send again. */
  | { status: "on-chain" }
  /** The deadline passed and someone timed the stack out: the owner was refunded. */
  | { status: "timed-out" };

/**
 * Everything before sending a frozen stack's settlement: the snapshot (idempotent), its root and inputs transcript,
 * the transcript in the blob store (served at `/v1/blobs/{id}`), both recorded on the row, and the chain's own
 * view of the stack, so that a settlement is never sent twice.
 */
export async function prepareSubmission(
  components: { db: NodeDb; blobs: BlobStore; chain: NodeSeat },
  stackId: bigint,
  chainId: number,
): Promise<PreparedSubmission> {
  const { db, blobs, chain } = components;
  const snapshot = await freezeForSettlement(db, stackId);
  const built = buildSettlement(snapshot, { chainId, stacks: chain.addresses.StackManager });
  const blob = await blobs.put(built.transcript);
  await updateSettlement(db, stackId, { merkle_root: built.root, transcript_blob_id: blob.id });
  const { phase } = await getSettlement(chain, stackId);
  if (phase === SettlementPhase.TimedOut) return { status: "timed-out" };
  if (phase !== SettlementPhase.None) return { status: "on-chain" };
  return {
    status: "ready",
    params: {
      stackId,
      root: built.root,
      units: built.units,
      requestCount: built.requestCount,
      transcriptId: blob.id,
    },
  };
}
