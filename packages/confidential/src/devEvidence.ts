import { toHex } from "./bytes.js";
import type { DevAttestationKey } from "./devAuthority.js";
import { createDevQuote } from "./devQuote.js";
import type { DevEvidence } from "./evidence.js";
import type { TdMeasurements } from "./measurements.js";
import { bindingReportData, type EvidenceBinding } from "./reportData.js";

/** What a node running the dev attestation kind serves: a dev quote whose report data binds `binding`. */
export function produceDevEvidence(
  key: DevAttestationKey,
  measurements: TdMeasurements,
  binding: EvidenceBinding,
): DevEvidence {
  return {
    kind: "dev",
    quote: toHex(createDevQuote(key, measurements, bindingReportData(binding))),
    attestationKeyCertificate: key.certificatePem,
    encryptionPublicKey: binding.encryptionPublicKey,
  };
}
