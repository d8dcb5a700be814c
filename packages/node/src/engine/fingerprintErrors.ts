import { AtomaError } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/**
 * This node's engine fingerprint is not the one approved for its echelon: its numbers differ from its peers', so
 * an honest answer or vote of its could be judged a cheat. It refuses the work rather than risk its collateral.
 */
export class EchelonFingerprintMismatchError extends AtomaError<NodeErrorCode> {
  override name = "EchelonFingerprintMismatchError";
  constructor(
    readonly expected: string,
    readonly local: string,
    readonly refused: string,
  ) {
    super(
      "echelon_fingerprint_mismatch",
      `refusing ${refused}: this node's engine fingerprint is ${local} but its echelon approved ${expected}, so its numbers would differ from its peers'. Run the echelon's llama.cpp build and engine settings (\`atoma node fingerprint\` prints this node's), or join an echelon approved for ${local}`,
    );
  }
}

/** The echelon has an approved fingerprint, and this node cannot show it has it (a remote engine, a failed probe). */
export class EchelonFingerprintUnknownError extends AtomaError<NodeErrorCode> {
  override name = "EchelonFingerprintUnknownError";
  constructor(
    readonly expected: string,
    readonly reason: string,
    readonly refused: string,
  ) {
    super(
      "echelon_fingerprint_unknown",
      `refusing ${refused}: its echelon approved fingerprint ${expected} and this node has none to compare (${reason})`,
    );
  }
}
