import { stackApiPart } from "../api/stackApiPart.js";
import { attestationPart } from "../attestation/attestationPart.js";
import { consensusPart } from "../consensus/consensusPart.js";
import { settlementPart } from "../settlement/settlementPart.js";
import type { NodePartFactory } from "./nodePart.js";

/**
 * The parts a production node runs, in start order: what `atoma node start` and `atoma dev` pass to
 * `createNode`. Each capability appends its factory here.
 */
export function defaultNodeParts(): NodePartFactory[] {
  return [stackApiPart(), settlementPart, attestationPart(), consensusPart()];
}
