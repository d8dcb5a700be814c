import type { Hash } from "@atoma/core";
import type { EngineFingerprint } from "@atoma/engine";
import type { NodePart, NodePartFactory } from "../service/nodePart.js";
import { EchelonFingerprintGate } from "./echelonFingerprintGate.js";
import { type EchelonFingerprintSource, readEchelonFingerprint } from "./echelonFingerprintSource.js";
import { computeLocalFingerprint, type LocalFingerprint } from "./localFingerprint.js";

export interface FingerprintPartOptions {
  /** Shared with the duty workers, which check it before they judge anyone. @default one of its own */
  gate?: EchelonFingerprintGate | undefined;
  /** Where the echelon's approved fingerprint comes from. @default readEchelonFingerprint (the on-chain seam) */
  expected?: EchelonFingerprintSource | undefined;
}

/** What `GET /v1/node/fingerprint` answers. */
export interface FingerprintBody {
  object: "atoma.node_fingerprint";
  /** This node's engine fingerprint (bytes32), or null when it has none. */
  fingerprint: Hash | null;
  /** Why it has none. */
  reason?: string | undefined;
  /** The probe's settings, numerics hash, greedy tokens and backend, when computed. */
  probe: EngineFingerprint | null;
  /** The fingerprint approved for the node's echelon when the node started, or null when none is. */
  echelon_fingerprint: Hash | null;
}

/**
 * At start, computes the node's numeric fingerprint with its engine's exact settings, serves it on
 * `GET /v1/node/fingerprint`, and refuses to start when its echelon approved another one (a node whose numbers
 * differ from its peers' would be slashed for honest answers). Without `chain.contracts.NodeRegistry` the node
 * belongs to no echelon: the part stays off, like the workers.
 */
export function fingerprintPart(options: FingerprintPartOptions = {}): NodePartFactory {
  return (context): NodePart => {
    const logger = context.logger.child({ module: "fingerprint" });
    if (!("NodeRegistry" in context.config.chain.contracts)) {
      logger.warn({}, "chain.contracts.NodeRegistry is not set: no echelon, so no fingerprint check");
      return { name: "fingerprint" };
    }
    const gate = options.gate ?? new EchelonFingerprintGate({ logger: context.logger });
    const source = options.expected ?? readEchelonFingerprint;
    // Asked for now, so that a node-owned engine is made and started before the parts start.
    const engine = context.engine();
    let expected: Hash | undefined;
    return {
      name: "fingerprint",
      routes: (app) => {
        app.get("/v1/node/fingerprint", (c) => c.json(fingerprintBody(gate.local, expected)));
      },
      start: async () => {
        const local = await computeLocalFingerprint(engine);
        gate.record(local);
        if (local.status === "computed")
          logger.info(
            { fingerprint: local.value.fingerprint, settings: local.value.settings, ms: local.value.ms },
            "engine fingerprint computed",
          );
        else logger.warn({ reason: local.reason }, "this node has no engine fingerprint");
        expected = await source(context);
        gate.checkEchelonFingerprint(expected, "to serve its echelon's verified tasks");
      },
    };
  };
}

function fingerprintBody(local: LocalFingerprint, expected: Hash | undefined): FingerprintBody {
  return {
    object: "atoma.node_fingerprint",
    fingerprint: local.status === "computed" ? local.value.fingerprint : null,
    reason: local.status === "computed" ? undefined : local.reason,
    probe: local.status === "computed" ? local.value : null,
    echelon_fingerprint: expected ?? null,
  };
}
