import {
  type AttestationEvidence,
  createDevQuote,
  type DevAttestationKey,
  type HexString,
  REPORT_DATA_BYTES,
  type TdMeasurements,
  toHex,
} from "@atoma/confidential";
import { EvidenceSourceError } from "./errors.js";

/**
 * Where a confidential node's evidence comes from: the TEE's quoting interface (Intel TDX through configfs-tsm),
 * or, on a development network, the dev authority. `produce` returns evidence whose report data is exactly
 * `reportData` (the binding of the node's signing address, encryption key and freshness value).
 */
export interface EvidenceSource {
  readonly kind: AttestationEvidence["kind"];
  produce(reportData: Uint8Array, encryptionPublicKey: HexString): Promise<AttestationEvidence>;
}

export function checkReportDataLength(reportData: Uint8Array): void {
  if (reportData.length !== REPORT_DATA_BYTES)
    throw new EvidenceSourceError(`report data must be ${REPORT_DATA_BYTES} bytes, got ${reportData.length}`);
}

/**
 * Development evidence (insecure): a quote-shaped document with the given measurements, signed by a key that the
 * local dev authority (`atoma dev`) certified. Only verifiers configured with that authority's root accept it.
 * `gpuToken`, as for TDX: GPU evidence for the quote's report data (a development NVIDIA verifier's token).
 */
export function devEvidenceSource(
  key: DevAttestationKey,
  measurements: TdMeasurements,
  options: { gpuToken?: ((reportData: Uint8Array) => Promise<string | undefined>) | undefined } = {},
): EvidenceSource {
  return {
    kind: "dev",
    async produce(reportData, encryptionPublicKey) {
      checkReportDataLength(reportData);
      const gpuToken = await options.gpuToken?.(reportData);
      return {
        kind: "dev",
        quote: toHex(createDevQuote(key, measurements, reportData)),
        attestationKeyCertificate: key.certificatePem,
        encryptionPublicKey,
        ...(gpuToken ? { gpuToken } : {}),
      };
    },
  };
}
