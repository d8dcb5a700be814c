import type { Hash } from "@atoma/core";
import type { NodeContext } from "../service/nodePart.js";

/** Where the node learns the fingerprint approved for its echelon (undefined when none is). */
export type EchelonFingerprintSource = (context: NodeContext) => Promise<Hash | undefined>;

/**
 * The seam for the on-chain read: the NodeRegistry's echelon → approved fingerprint view plugs in here (this
 * node's echelon from its registration, then the fingerprint approved for it). Until it does, no echelon has an
 * approved fingerprint, so every check answers "unchecked" and says so in the log.
 */
export async function readEchelonFingerprint(_context: NodeContext): Promise<Hash | undefined> {
  return undefined;
}
