import { NodeFailedError } from "../errors.js";

/**
 * Tokens a node may bill above the gateway's bound of a request before its receipt is taken for a lie. The bound
 * counts the prompt's bytes (no tokenizer with byte fallback makes more tokens than bytes) plus a small margin for
 * the chat template; templates with long fixed preambles (a default system prompt, a tool-calling preamble) can
 * add more than that margin, and an honest node must never be thrown out for its template.
 */
export const TEMPLATE_SLACK_UNITS = 4_096n;

/** A verified receipt that bills more units than the request could use: the node lies about its units. */
export class OverbilledReceiptError extends NodeFailedError {
  override name = "OverbilledReceiptError";
  constructor(
    readonly nodeId: bigint,
    readonly units: bigint,
    readonly bound: bigint,
  ) {
    super(`node ${nodeId} billed ${units} units for a request that could use at most ${bound}`);
  }
}

/** Throws `OverbilledReceiptError` when `units` exceed what a request bounded by `maxUnits` can use. */
export function assertWithinBound(nodeId: bigint, units: bigint, maxUnits: bigint): void {
  const bound = maxUnits + TEMPLATE_SLACK_UNITS;
  if (units > bound) throw new OverbilledReceiptError(nodeId, units, bound);
}

/**
 * Whether a node's "stack exhausted" contradicts the gateway's own receipts: the stack still has room for this
 * request with the template slack to spare. A node saying so anyway refuses work it was paid for in advance;
 * believing it would retire a stack whose escrow stays locked until it settles, and buy another.
 */
export function exhaustionIsFalse(units: bigint, unitsUsed: bigint, maxUnits: bigint): boolean {
  return units - unitsUsed >= maxUnits + TEMPLATE_SLACK_UNITS;
}
