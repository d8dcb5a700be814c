import { createPrivateKey, sign, verify, X509Certificate } from "node:crypto";
import { bytesEqual, fromHex } from "./bytes.js";
import type { DevAttestationKey } from "./devAuthority.js";
import {
  AttestationMalformedError,
  AttestationSignatureError,
  CollateralExpiredError,
  UntrustedRootError,
} from "./errors.js";
import { MEASUREMENT_BYTES, measurementsFromBytes, type TdMeasurements } from "./measurements.js";
import { REPORT_DATA_BYTES } from "./reportData.js";
import type { VerifiedQuote } from "./tdx.js";

/**
 * A development quote, laid out like the body of a TDX quote so the same checks apply:
 * magic "ATOMADEV" (8) | version u16 BE (2) | reserved (2) | MRTD (48) | RTMR0..3 (4 × 48) | report data (64),
 * followed by a P-256 ECDSA signature (r‖s, 64 bytes) over all of that by a key the dev authority certified.
 */
const MAGIC = new TextEncoder().encode("ATOMADEV");
const VERSION = 1;
const HEADER_BYTES = 12;
const BODY_BYTES = HEADER_BYTES + 5 * MEASUREMENT_BYTES + REPORT_DATA_BYTES;
const SIGNATURE_BYTES = 64;
export const DEV_QUOTE_BYTES = BODY_BYTES + SIGNATURE_BYTES;

/** Signs a development quote over `measurements` and `reportData` with a dev attestation key. */
export function createDevQuote(
  key: DevAttestationKey,
  measurements: TdMeasurements,
  reportData: Uint8Array,
): Uint8Array {
  if (reportData.length !== REPORT_DATA_BYTES)
    throw new AttestationMalformedError(`report data must be ${REPORT_DATA_BYTES} bytes`);
  const body = new Uint8Array(BODY_BYTES);
  body.set(MAGIC, 0);
  new DataView(body.buffer).setUint16(8, VERSION);
  const registers = [
    measurements.mrTd,
    measurements.rtmr0,
    measurements.rtmr1,
    measurements.rtmr2,
    measurements.rtmr3,
  ];
  for (const [i, value] of registers.entries())
    body.set(fromHex(value, "measurement", MEASUREMENT_BYTES), HEADER_BYTES + i * MEASUREMENT_BYTES);
  body.set(reportData, HEADER_BYTES + 5 * MEASUREMENT_BYTES);
  const signature = sign("sha256", body, {
    key: createPrivateKey(key.privateKeyPem),
    dsaEncoding: "ieee-p1363",
  });
  const quote = new Uint8Array(DEV_QUOTE_BYTES);
  quote.set(body, 0);
  quote.set(signature, BODY_BYTES);
  return quote;
}

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new AttestationMalformedError(`${what} is not an X.509 certificate`, { cause: error });
  }
}

function checkValidity(certificate: X509Certificate, what: string, now: Date): void {
  if (new Date(certificate.validFrom) > now || new Date(certificate.validTo) < now)
    throw new CollateralExpiredError(`the ${what} is outside its validity window`, {
      details: `${certificate.validFrom} → ${certificate.validTo}`,
    });
}

/**
 * Verifies a development quote: the attestation key's certificate must be issued and signed by `rootPem` (a CA),
 * both valid at `now`, and the quote signed by that key. Returns the same shape a verified TDX quote has.
 */
export function verifyDevQuote(
  quote: Uint8Array,
  certificatePem: string,
  rootPem: string,
  now: Date,
): VerifiedQuote {
  if (quote.length !== DEV_QUOTE_BYTES || !bytesEqual(quote.subarray(0, MAGIC.length), MAGIC))
    throw new AttestationMalformedError("not a development quote");
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  if (view.getUint16(8) !== VERSION) throw new AttestationMalformedError("unknown development quote version");
  const root = parseCertificate(rootPem, "the trusted dev root");
  const leaf = parseCertificate(certificatePem, "the attestation key certificate");
  if (!root.ca || leaf.ca || !leaf.checkIssued(root) || !leaf.verify(root.publicKey))
    throw new UntrustedRootError("the attestation key is not certified by the trusted dev root");
  checkValidity(root, "dev root certificate", now);
  checkValidity(leaf, "attestation key certificate", now);
  const body = quote.subarray(0, BODY_BYTES);
  const signature = quote.subarray(BODY_BYTES);
  if (!verify("sha256", body, { key: leaf.publicKey, dsaEncoding: "ieee-p1363" }, signature))
    throw new AttestationSignatureError("the development quote's signature is invalid");
  const register = (i: number) =>
    quote.slice(HEADER_BYTES + i * MEASUREMENT_BYTES, HEADER_BYTES + (i + 1) * MEASUREMENT_BYTES);
  return {
    tcbStatus: "Development",
    advisoryIds: [],
    measurements: measurementsFromBytes({
      mrTd: register(0),
      rtMr0: register(1),
      rtMr1: register(2),
      rtMr2: register(3),
      rtMr3: register(4),
    }),
    reportData: quote.slice(HEADER_BYTES + 5 * MEASUREMENT_BYTES, BODY_BYTES),
  };
}
