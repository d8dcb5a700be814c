import { AtomaError } from "@atoma/core";
import type { EngineErrorCode } from "../errorCodes.js";

/** The tiny-model writer no longer produces the probe model's pinned bytes: fingerprints would change silently. */
export class ProbeModelChangedError extends AtomaError<EngineErrorCode> {
  override name = "ProbeModelChangedError";
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      "probe_model_changed",
      `the probe model's bytes changed (sha256 ${actual}, pinned ${expected}): a new probe needs a new PROBE_VERSION`,
    );
  }
}

/** The engine cannot compute a numeric fingerprint (a remote engine, whose numerics live in another server). */
export class FingerprintUnavailableError extends AtomaError<EngineErrorCode> {
  override name = "FingerprintUnavailableError";
  constructor(readonly reason: string) {
    super("fingerprint_unavailable", `this engine has no numeric fingerprint: ${reason}`);
  }
}
