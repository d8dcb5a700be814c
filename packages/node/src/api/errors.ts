import { AtomaError, InvalidSignatureError, type LeafDenialWire } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** The request lacks the owner's authorisation headers, or one is malformed (401, like a missing API key). */
export class MissingAuthorizationError extends InvalidSignatureError {
  override name = "MissingAuthorizationError";
}

/** The signed request's deadline has passed, or lies further ahead than the node accepts (401). */
export class RequestExpiredError extends InvalidSignatureError {
  override name = "RequestExpiredError";
}

/** A leaf's request or response would not read back as what the node signed: nothing is recorded or delivered. */
export class LeafEncodingError extends AtomaError<NodeErrorCode> {
  override name = "LeafEncodingError";
  constructor(what: "request" | "response") {
    super("leaf_encoding", `the ${what} would not read back from its record as signed`);
  }
}

/** The stack has no leaf at that index (404): its settled tree holds fewer. */
export class LeafNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "LeafNotFoundError";
  constructor(stackId: bigint, leafIndex: bigint, leafCount: bigint) {
    super("leaf_not_found", `stack ${stackId} has no leaf ${leafIndex} (its settlement holds ${leafCount})`);
  }
}

/**
 * The node committed no leaf at that nonce of the stack (404): nothing there to show its owner. When the read named
 * the request it asks about, `denial` is the node's signed `AtomaLeafDenial` of it there (sent as the body's
 * `denial`): its word, which a leaf for that request settled at that nonce later convicts on-chain.
 */
export class NoLeafAtNonceError extends AtomaError<NodeErrorCode> {
  override name = "NoLeafAtNonceError";
  readonly denial: LeafDenialWire | undefined;
  constructor(stackId: bigint, nonce: bigint, denial?: LeafDenialWire) {
    super("leaf_not_found", `stack ${stackId} has no leaf at nonce ${nonce}`);
    this.denial = denial;
  }
}

/** A leaf read whose signature this node answered already (409): each read is signed afresh (a new salt). */
export class LeafReadReplayedError extends AtomaError<NodeErrorCode> {
  override name = "LeafReadReplayedError";
  constructor() {
    super("leaf_read_replayed", "this signed leaf read was answered already: sign a new one");
  }
}

/** More signed leaf reads are remembered, within their deadlines, than the node keeps (429): try again shortly. */
export class LeafReadsCrowdedError extends AtomaError<NodeErrorCode> {
  override name = "LeafReadsCrowdedError";
  /** Seconds until the stack's earliest read passes its deadline and frees a room (`retry-after`). */
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(
      "leaf_reads_crowded",
      "too many leaf reads of this stack within their deadlines: try again shortly",
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The node has not posted the stack's root on-chain yet, so no proof under it exists (409; ask again later). */
export class StackNotSettledError extends AtomaError<NodeErrorCode> {
  override name = "StackNotSettledError";
  constructor(stackId: bigint) {
    super("stack_not_settled", `stack ${stackId} is not settled yet: its root is not on-chain`);
  }
}

/** The `x-atoma-max-units` header is missing or not a unit count in 1..2^64-1 (400). */
export class InvalidMaxUnitsError extends AtomaError<NodeErrorCode> {
  override name = "InvalidMaxUnitsError";
  constructor(message: string) {
    super("invalid_max_units", message);
  }
}

/**
 * The request can use more units than its owner signed as `maxUnits` (400): the prompt alone, or the prompt plus
 * the most it may generate. Refused before anything is reserved, so its leaf never claims more than was signed.
 */
export class MaxUnitsExceededError extends AtomaError<NodeErrorCode> {
  override name = "MaxUnitsExceededError";
  constructor(units: bigint, maxUnits: bigint, promptOnly: boolean) {
    super(
      "max_units_exceeded",
      promptOnly
        ? `the prompt alone uses ${units} units, the signed request allows ${maxUnits}`
        : `the request can use ${units} units (prompt plus max_tokens), the signed request allows ${maxUnits}: lower max_tokens or sign a larger maxUnits`,
    );
  }
}

/**
 * The engine reported more units than the owner signed for (an upstream server counting otherwise than the node's
 * bound): the answer is neither recorded nor delivered (502), so the node never signs a leaf it could be slashed for.
 */
export class UsageOverSignedError extends AtomaError<NodeErrorCode> {
  override name = "UsageOverSignedError";
  constructor(units: bigint, maxUnits: bigint) {
    super("usage_over_signed", `the engine reported ${units} units, the signed request allows ${maxUnits}`);
  }
}
