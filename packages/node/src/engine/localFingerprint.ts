import type { EngineFingerprint, InferenceEngine } from "@atoma/engine";

/** What this node knows of its own numeric identity. */
export type LocalFingerprint =
  | { status: "computed"; value: EngineFingerprint }
  | { status: "unavailable"; reason: string };

/**
 * Runs the engine's probe with its exact settings. An engine without a probe (remote: its numerics live in an
 * upstream server that cannot run the probe model) or a probe that fails leaves the node without a fingerprint,
 * which the echelon check then treats as unknown.
 */
export async function computeLocalFingerprint(engine: InferenceEngine): Promise<LocalFingerprint> {
  if (!engine.fingerprint)
    return {
      status: "unavailable",
      reason: `the ${engine.kind} engine cannot run the fingerprint probe (its numerics live in another server)`,
    };
  try {
    return { status: "computed", value: await engine.fingerprint() };
  } catch (error) {
    return {
      status: "unavailable",
      reason: `the fingerprint probe failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
