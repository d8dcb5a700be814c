import type { Hash, Logger } from "@atoma/core";
import { EchelonFingerprintMismatchError, EchelonFingerprintUnknownError } from "./fingerprintErrors.js";
import type { LocalFingerprint } from "./localFingerprint.js";

/** `match`: the node computes what its echelon approved; `unchecked`: the echelon has no approved fingerprint. */
export type EchelonFingerprintVerdict = "match" | "unchecked";

const NONE = /^0x0{64}$/i;

/**
 * Holds the node's own fingerprint and answers, before any verified work (serving a sampled task, attesting,
 * voting in a committee, taking a consensus seat), whether the node computes what its echelon approved. An
 * honest node with other numerics would be slashed for answers it computed honestly; this is how it knows first.
 */
export class EchelonFingerprintGate {
  readonly #logger: Logger;
  #local: LocalFingerprint = { status: "unavailable", reason: "not computed yet (the node is starting)" };
  #warnedUnchecked = false;

  constructor(components: { logger: Logger }) {
    this.#logger = components.logger.child({ module: "echelon-fingerprint" });
  }

  get local(): LocalFingerprint {
    return this.#local;
  }

  record(local: LocalFingerprint): void {
    this.#local = local;
  }

  /**
   * Compares the node's fingerprint with `expected`, the one approved for its echelon (undefined, or bytes32(0)
   * as an unset on-chain entry reads, when none is). Throws `EchelonFingerprintMismatchError` when they differ
   * and `EchelonFingerprintUnknownError` when the node has none to compare, logging why; `refused` names the work
   * the caller is about to refuse.
   */
  checkEchelonFingerprint(expected: Hash | undefined, refused = "verified work"): EchelonFingerprintVerdict {
    if (expected === undefined || NONE.test(expected)) {
      if (!this.#warnedUnchecked)
        this.#logger.warn(
          { local: this.#fingerprint() },
          "the echelon has no approved fingerprint: this node's numerics are not checked against its peers'",
        );
      this.#warnedUnchecked = true;
      return "unchecked";
    }
    const local = this.#local;
    if (local.status !== "computed") {
      const error = new EchelonFingerprintUnknownError(expected, local.reason, refused);
      this.#logger.error({ expected, reason: local.reason, refused }, error.shortMessage);
      throw error;
    }
    if (local.value.fingerprint.toLowerCase() !== expected.toLowerCase()) {
      const error = new EchelonFingerprintMismatchError(expected, local.value.fingerprint, refused);
      this.#logger.error(
        { expected, local: local.value.fingerprint, settings: local.value.settings, refused },
        error.shortMessage,
      );
      throw error;
    }
    return "match";
  }

  #fingerprint(): string {
    return this.#local.status === "computed" ? this.#local.value.fingerprint : `none (${this.#local.reason})`;
  }
}
