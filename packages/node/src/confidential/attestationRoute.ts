import type { NodeApp } from "../http/nodeEnv.js";
import type { ConfidentialCompute } from "./confidentialCompute.js";
import { AttestationUnavailableError, InvalidAttestationNonceError } from "./errors.js";

const NONCE = /^0x[0-9a-fA-F]{64}$/;

/**
 * `GET /v1/attestation?nonce=0x…` (32 bytes of hex): evidence whose report data binds the node's signing address,
 * its encryption key and the client's nonce. Without `nonce`: the current epoch's evidence (no quote produced).
 * The body is `{ object: "atoma.attestation", signing_address, freshness, evidence }`.
 */
export function attestationRoute(app: NodeApp, confidential: ConfidentialCompute): void {
  app.get("/v1/attestation", async (c) => {
    const nonces = c.req.queries("nonce") ?? [];
    if (nonces.length > 1) throw new InvalidAttestationNonceError("give one nonce");
    const nonce = nonces[0];
    if (nonce === undefined) {
      const current = confidential.epochEvidence;
      if (!current) throw new AttestationUnavailableError("the node has not attested for an epoch yet");
      return c.json({
        object: "atoma.attestation",
        signing_address: confidential.signingAddress,
        freshness: { kind: "epoch", epoch: current.epoch.toString() },
        evidence: current.evidence,
      });
    }
    if (!NONCE.test(nonce))
      throw new InvalidAttestationNonceError("nonce must be 32 bytes as 0x-prefixed hex (66 characters)");
    const evidence = await confidential.forNonce(nonce.toLowerCase() as `0x${string}`);
    return c.json({
      object: "atoma.attestation",
      signing_address: confidential.signingAddress,
      freshness: { kind: "nonce", nonce: nonce.toLowerCase() },
      evidence,
    });
  });
}
