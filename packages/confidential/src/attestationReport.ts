import { AtomaError } from "@atoma/core";
import { GpuEvidenceMissingError } from "./errors.js";
import type { AttestationEvidence } from "./evidence.js";
import { gpuNonceFor, verifyNvidiaGpuToken } from "./gpuToken.js";
import { checkMeasurements, type TdMeasurements } from "./measurements.js";
import { checkReportData } from "./reportData.js";
import type { VerifiedQuote } from "./tdx.js";
import { type AttestationExpectation, type AttestationPolicy, verifyEvidenceQuote } from "./verify.js";

export type AttestationCheckName = "quote" | "measurements" | "binding" | "gpu" | "nonce";

/** One check of a report: passed, failed (with the error's code), skipped (nothing to check it against), or never reached. */
export interface AttestationCheck {
  name: AttestationCheckName;
  status: "passed" | "failed" | "skipped" | "not reached";
  detail: string;
  code?: string;
}

export interface AttestationReport {
  /**
   * No check failed or went unreached, and the measurements were checked against an allow-list (skipped GPU and
   * nonce checks do not count as failures; a skipped measurement check does, unless `showOnly` was asked for).
   */
  ok: boolean;
  /** Why `ok` is false although no check failed: the measurements were shown, not approved. */
  reason?: string;
  kind: AttestationEvidence["kind"];
  insecure: boolean;
  label: "Intel TDX" | "insecure, development";
  checks: AttestationCheck[];
  measurements?: TdMeasurements;
  tcbStatus?: VerifiedQuote["tcbStatus"];
  encryptionPublicKey: string;
}

const ORDER: AttestationCheckName[] = ["quote", "measurements", "binding", "gpu", "nonce"];

/**
 * The checks of `verifyAttestation`, one by one, for a person to read (`atoma attest`): each with its outcome and,
 * for a failure, the error's stable code; the checks after a failure are "not reached". Unlike `verifyAttestation`,
 * an empty allow-list skips the measurement check instead of failing it (the report says so), so an operator can
 * read a node's measurements before approving them; the report is then not `ok` (with a `reason`) unless
 * `options.showOnly` says that reading them is all that was asked. A client about to send a prompt uses
 * `verifyAttestation`.
 */
export async function checkAttestation(
  evidence: AttestationEvidence,
  policy: AttestationPolicy,
  expected: AttestationExpectation,
  options: { showOnly?: boolean | undefined } = {},
): Promise<AttestationReport> {
  const now = expected.now ?? new Date();
  const checks: AttestationCheck[] = [];
  const insecure = evidence.kind === "dev";
  const report: AttestationReport = {
    ok: false,
    kind: evidence.kind,
    insecure,
    label: insecure ? "insecure, development" : "Intel TDX",
    checks,
    encryptionPublicKey: evidence.encryptionPublicKey,
  };
  const run = async (
    name: AttestationCheckName,
    step: () => Promise<AttestationCheck["status"] | string>,
  ) => {
    try {
      const outcome = await step();
      checks.push(
        outcome === "skipped"
          ? { name, status: "skipped", detail: SKIPPED[name] }
          : { name, status: "passed", detail: outcome },
      );
      return true;
    } catch (error) {
      const code = error instanceof AtomaError ? error.code : "internal_error";
      const detail = error instanceof AtomaError ? error.shortMessage : String(error);
      checks.push({ name, status: "failed", detail, code });
      return false;
    }
  };
  let verified: ReturnType<typeof verifyEvidenceQuote> | undefined;
  const steps: Record<AttestationCheckName, () => Promise<string>> = {
    quote: async () => {
      verified = verifyEvidenceQuote(evidence, policy, now);
      report.measurements = verified.measurements;
      report.tcbStatus = verified.tcbStatus;
      return insecure
        ? "signed by a key the development root certified (insecure, development)"
        : `signatures and collateral verify; TCB ${verified.tcbStatus}`;
    },
    measurements: async () => {
      if (policy.measurements.length === 0) return "skipped";
      const allowed = checkMeasurements(verified!.measurements, policy.measurements);
      return `MRTD and RTMRs match ${allowed.label ?? "an allowed entry"}`;
    },
    binding: async () => {
      checkReportData(verified!.reportData, {
        signingAddress: expected.signingAddress,
        encryptionPublicKey: evidence.encryptionPublicKey,
        freshness: expected.freshness,
      });
      return `report data binds signer ${expected.signingAddress}, key ${evidence.encryptionPublicKey} and the ${expected.freshness.kind}`;
    },
    gpu: async () => {
      if (evidence.gpuToken === undefined) {
        if (policy.gpu && policy.gpu.required !== false)
          throw new GpuEvidenceMissingError("GPU evidence is required but none was sent");
        return "skipped";
      }
      if (!policy.gpu) return "skipped";
      await verifyNvidiaGpuToken(evidence.gpuToken, {
        jwks: policy.gpu.jwks,
        expectedNonce: gpuNonceFor(verified!.reportData),
        now,
        ...(policy.gpu.issuer ? { issuer: policy.gpu.issuer } : {}),
      });
      return "NVIDIA attestation token verifies for this report data";
    },
    nonce: async () => {
      if (expected.freshness.kind !== "nonce" || !expected.nonces) return "skipped";
      expected.nonces.consume(expected.freshness.nonce);
      return "the nonce was issued here and is answered once";
    },
  };
  for (const [i, name] of ORDER.entries()) {
    if (await run(name, steps[name])) continue;
    for (const rest of ORDER.slice(i + 1)) checks.push({ name: rest, status: "not reached", detail: "" });
    return report;
  }
  if (policy.measurements.length === 0 && !options.showOnly) {
    report.reason = "no allow-list given: the measurements are shown, not approved";
    return report;
  }
  report.ok = true;
  return report;
}

const SKIPPED: Record<AttestationCheckName, string> = {
  quote: "",
  measurements: "no allow-list given: the measurements are shown, not approved",
  binding: "",
  gpu: "no GPU evidence, or no NVIDIA key set to check it against",
  nonce: "the freshness is not a nonce issued here",
};
