import { consensusPart } from "../consensus/consensusPart.js";
import type { NodePartFactory } from "./nodePart.js";

/**
 * The parts a production node runs, in start order: what `atoma node start` and `atoma dev` pass to
 * `createNode`. Each capability appends its factory here.
 */
export function defaultNodeParts(): NodePartFactory[] {
  return [consensusPart()];
}
