import type { Hex } from "viem";

/** A node's record in the AttestationRegistry, as the explorer reads it (`attestationOf`). */
export interface NodeAttestation {
  kind: "tdx" | "dev";
  measurement: Hex;
  encryptionKey: Hex;
  evidenceHash: Hex;
  epoch: bigint;
  /** Unix seconds (the chain's clock). */
  expiresAt: bigint;
}

/** What the network page shows of a node's attestation. */
export interface AttestationState {
  /**
   * `current`: the record is unexpired. Never "valid": the chain does not verify the quote, so a record's kind and
   * measurement are the node's own word (clients verify the evidence themselves before sealing).
   */
  state: "missing" | "current" | "expired";
  /** "not attested", "Intel TDX, declared (not verified on-chain)", "insecure, development", or either "expired". */
  label: string;
  record: NodeAttestation | undefined;
}

const KIND_LABELS = {
  tdx: "Intel TDX, declared (not verified on-chain)",
  dev: "insecure, development",
} as const;

/** The record's kind as a registry value (0 none, 1 TDX, 2 development), or undefined for none. */
export function attestationKindOf(kind: number): NodeAttestation["kind"] | undefined {
  return kind === 1 ? "tdx" : kind === 2 ? "dev" : undefined;
}

/**
 * A node's attestation as of the chain's time `now` (the head block's): missing when it never posted one, expired
 * once the chain's clock reaches its expiry (a confidential task no longer takes the node), else current. The TDX
 * kind is labelled declared: the registry takes it from the node unverified. The development kind is labelled
 * insecure: it proves nothing about hardware.
 */
export function attestationState(
  record: NodeAttestation | undefined,
  now: bigint | undefined,
): AttestationState {
  if (!record) return { state: "missing", label: "not attested", record };
  const kind = KIND_LABELS[record.kind];
  if (now !== undefined && record.expiresAt <= now)
    return { state: "expired", label: `expired (${kind})`, record };
  return { state: "current", label: kind, record };
}

/** `0x1234…abcd`: a hash short enough for a table cell (the whole value goes in its title). */
export const shortHex = (value: Hex) => `${value.slice(0, 6)}…${value.slice(-4)}`;
