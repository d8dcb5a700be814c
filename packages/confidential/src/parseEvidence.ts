import { fromHex, type HexString } from "./bytes.js";
import { AttestationMalformedError } from "./errors.js";
import type { AttestationEvidence } from "./evidence.js";
import type { Collateral } from "./tdx.js";

const COLLATERAL_TEXT = [
  "pck_crl_issuer_chain",
  "tcb_info_issuer_chain",
  "tcb_info",
  "qe_identity_issuer_chain",
  "qe_identity",
];
const COLLATERAL_BYTES = ["root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"];
/** Bounds on what a node may send, so a hostile one cannot make the client parse megabytes. */
const MAX_QUOTE_BYTES = 16 * 1024;
const MAX_FIELD_CHARS = 256 * 1024;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function text(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_FIELD_CHARS)
    throw new AttestationMalformedError(`${where}.${field} must be a non-empty string`);
  return value;
}

function collateral(value: unknown): Collateral {
  if (!isRecord(value)) throw new AttestationMalformedError("evidence.collateral must be an object");
  for (const field of COLLATERAL_TEXT) text(value, field, "evidence.collateral");
  for (const field of COLLATERAL_BYTES) {
    const bytes = value[field];
    const ok =
      (typeof bytes === "string" && bytes.length <= MAX_FIELD_CHARS) ||
      (Array.isArray(bytes) &&
        bytes.length <= MAX_FIELD_CHARS &&
        bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
    if (!ok) throw new AttestationMalformedError(`evidence.collateral.${field} must be hex or a byte array`);
  }
  return value as unknown as Collateral;
}

/**
 * Checks the shape of evidence received from a node (the body of `GET /v1/attestation`) before anything verifies
 * it: known kind, hex where hex belongs, sizes within bounds. Throws `AttestationMalformedError` naming the field.
 */
export function parseEvidence(value: unknown): AttestationEvidence {
  if (!isRecord(value)) throw new AttestationMalformedError("evidence must be a JSON object");
  const quote = text(value, "quote", "evidence") as HexString;
  if (fromHex(quote, "evidence.quote").length > MAX_QUOTE_BYTES)
    throw new AttestationMalformedError(`evidence.quote is longer than ${MAX_QUOTE_BYTES} bytes`);
  const encryptionPublicKey = text(value, "encryptionPublicKey", "evidence") as HexString;
  fromHex(encryptionPublicKey, "evidence.encryptionPublicKey", 32);
  const gpuToken = value.gpuToken === undefined ? {} : { gpuToken: text(value, "gpuToken", "evidence") };
  if (value.kind === "tdx")
    return { kind: "tdx", quote, collateral: collateral(value.collateral), encryptionPublicKey, ...gpuToken };
  if (value.kind === "dev")
    return {
      kind: "dev",
      quote,
      attestationKeyCertificate: text(value, "attestationKeyCertificate", "evidence"),
      encryptionPublicKey,
      ...gpuToken,
    };
  throw new AttestationMalformedError(`evidence.kind must be "tdx" or "dev"`);
}
