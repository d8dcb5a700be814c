import { nodeEchelonFingerprint } from "@atoma/chain";
import type { Hash } from "@atoma/core";
import type { NodeContext } from "../service/nodePart.js";

/** Where the node learns the fingerprint approved for its echelon (undefined when none is). */
export type EchelonFingerprintSource = (context: NodeContext) => Promise<Hash | undefined>;

/**
 * Reads it from the NodeRegistry: this node's registration (by its signing key), then the fingerprint approved
 * for its echelon. A node not registered yet belongs to no echelon, and one whose echelon was revoked has no
 * approved fingerprint (and is not eligible for any work): both answer undefined, which the gate logs as
 * unchecked.
 */
export async function readEchelonFingerprint(context: NodeContext): Promise<Hash | undefined> {
  const nodeId = await context.seat.nodeId();
  if (nodeId === undefined) return undefined;
  return nodeEchelonFingerprint(context.seat, nodeId);
}
