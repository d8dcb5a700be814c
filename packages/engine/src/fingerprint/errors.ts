import { AtomaError } from "@atoma/core";

/** The tiny-model writer no longer produces the probe model's pinned bytes: fingerprints would change silently. */
export class ProbeModelChangedError extends AtomaError {
  override name = "ProbeModelChangedError";
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      "PROBE_MODEL_CHANGED",
      `the probe model's bytes changed (sha256 ${actual}, pinned ${expected}): a new probe needs a new PROBE_VERSION`,
    );
  }
}

/** The engine cannot compute a numeric fingerprint (a remote engine, whose numerics live in another server). */
export class FingerprintUnavailableError extends AtomaError {
  override name = "FingerprintUnavailableError";
  constructor(readonly reason: string) {
    super("FINGERPRINT_UNAVAILABLE", `this engine has no numeric fingerprint: ${reason}`);
  }
}
