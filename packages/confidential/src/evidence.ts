import type { HexString } from "./bytes.js";
import type { Collateral } from "./tdx.js";

/** Evidence from a node in an Intel TDX trust domain, with the collateral it is checked against. */
export interface TdxEvidence {
  kind: "tdx";
  quote: HexString;
  collateral: Collateral;
  /** The X25519 key the quote's report data binds: requests are sealed to it. */
  encryptionPublicKey: HexString;
  /** NVIDIA remote attestation service token for the node's GPUs, when it has confidential GPUs. */
  gpuToken?: string;
}

/** Development evidence: a quote-shaped document signed by a key a local test authority certified. Insecure. */
export interface DevEvidence {
  kind: "dev";
  quote: HexString;
  /** PEM certificate of the key that signed the quote (the verifier holds the root). */
  attestationKeyCertificate: string;
  encryptionPublicKey: HexString;
  gpuToken?: string;
}

/** What `GET /v1/attestation` serves. */
export type AttestationEvidence = TdxEvidence | DevEvidence;
