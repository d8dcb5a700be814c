import { createHash } from "node:crypto";
import { bytesEqual, fromHex, type HexString, toHex } from "./bytes.js";
import { AttestationMalformedError, ReportDataMismatchError } from "./errors.js";

/**
 * What keeps evidence fresh: a 32-byte nonce the client chose for this request, or the epoch the node re-attests
 * in (evidence published once per epoch, for anyone to check without a round trip).
 */
export type Freshness = { kind: "nonce"; nonce: HexString } | { kind: "epoch"; epoch: bigint };

/** What a confidential node's evidence vouches for: the key it signs with, the key it decrypts with, and when. */
export interface EvidenceBinding {
  /** The node's signing address (20 bytes), the one registered on-chain. */
  signingAddress: HexString;
  /** The node's X25519 HPKE public key (32 bytes): requests are sealed to it. */
  encryptionPublicKey: HexString;
  freshness: Freshness;
}

const DOMAIN = new TextEncoder().encode("atoma/attestation-report-data/v1\0");
const FRESHNESS_NONCE = 1;
const FRESHNESS_EPOCH = 2;
export const REPORT_DATA_BYTES = 64;

function freshnessBytes(freshness: Freshness): Uint8Array {
  if (freshness.kind === "nonce") return fromHex(freshness.nonce, "nonce", 32);
  if (typeof freshness.epoch !== "bigint" || freshness.epoch < 0n || freshness.epoch >= 2n ** 256n)
    throw new AttestationMalformedError("epoch must be a non-negative 256-bit integer");
  return fromHex(`0x${freshness.epoch.toString(16).padStart(64, "0")}`, "epoch", 32);
}

/**
 * The 64 bytes a TEE quote carries as report data: SHA-512 over a domain tag, the signing address, the encryption
 * key, the freshness kind and its 32-byte value. Every field has a fixed length, so no two bindings encode alike.
 */
export function bindingReportData(binding: EvidenceBinding): Uint8Array {
  const hash = createHash("sha512");
  hash.update(DOMAIN);
  hash.update(fromHex(binding.signingAddress, "signing address", 20));
  hash.update(fromHex(binding.encryptionPublicKey, "encryption public key", 32));
  hash.update(Uint8Array.of(binding.freshness.kind === "nonce" ? FRESHNESS_NONCE : FRESHNESS_EPOCH));
  hash.update(freshnessBytes(binding.freshness));
  return new Uint8Array(hash.digest());
}

/** Throws `ReportDataMismatchError` unless `reportData` is exactly the binding of `expected`. */
export function checkReportData(reportData: Uint8Array, expected: EvidenceBinding): void {
  const wanted = bindingReportData(expected);
  if (!bytesEqual(reportData, wanted))
    throw new ReportDataMismatchError(
      "the quote's report data does not bind the expected signing address, encryption key and freshness value",
      { details: `got ${toHex(reportData)}` },
    );
}
