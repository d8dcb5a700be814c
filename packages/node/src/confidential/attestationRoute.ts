import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import type { NodeApp } from "../http/nodeEnv.js";
import type { ConfidentialCompute } from "./confidentialCompute.js";
import {
  AttestationUnavailableError,
  ConfidentialUnsupportedError,
  InvalidAttestationNonceError,
} from "./errors.js";

const NONCE = /^0x[0-9a-fA-F]{64}$/;

/** The peer's address, whose share of the fresh-quote budget a nonce spends ("unknown" off a socket). */
function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * `GET /v1/attestation?nonce=0x…` (32 bytes of hex): evidence whose report data binds the node's signing address,
 * its encryption key and the client's nonce. Without `nonce`: the latest epoch evidence whose post is final, with
 * its signed statement (no quote produced).
 * The body is `{ object: "atoma.attestation", signing_address, freshness, evidence }`. A fresh nonce spends the
 * asking address's share of the quote budget (behind a reverse proxy, the proxy's address: give it its own limits).
 * A node without confidential compute answers 400 `confidential_unsupported` (for good), one that has no evidence
 * for now 503 `attestation_unavailable` (ask again), so a client tells the two apart.
 */
export function attestationRoute(app: NodeApp, confidential: ConfidentialCompute | undefined): void {
  app.get("/v1/attestation", async (c) => {
    if (!confidential) throw new ConfidentialUnsupportedError();
    const nonces = c.req.queries("nonce") ?? [];
    if (nonces.length > 1) throw new InvalidAttestationNonceError("give one nonce");
    const nonce = nonces[0];
    if (nonce === undefined) {
      const served = confidential.servedEpoch;
      if (!served) throw new AttestationUnavailableError("the node has not attested for an epoch yet");
      const { evidence: current, statement } = served;
      return c.json({
        object: "atoma.attestation",
        signing_address: confidential.signingAddress,
        freshness: { kind: "epoch", epoch: current.epoch.toString() },
        evidence: current.evidence,
        // Once the evidence's post is final: the signer's word that it is the record for that epoch (evidence it
        // never posted for it, so signed, convicts it on the AttestationRegistry). A newer evidence still waiting
        // for its confirmations is not served yet: the one vouched for before is.
        ...(statement
          ? {
              statement: {
                node_id: statement.nodeId.toString(),
                epoch: statement.epoch.toString(),
                evidence_hash: statement.evidenceHash,
                signature: statement.signature,
              },
            }
          : {}),
      });
    }
    if (!NONCE.test(nonce))
      throw new InvalidAttestationNonceError("nonce must be 32 bytes as 0x-prefixed hex (66 characters)");
    const evidence = await confidential.forNonce(nonce.toLowerCase() as `0x${string}`, remoteAddress(c));
    return c.json({
      object: "atoma.attestation",
      signing_address: confidential.signingAddress,
      freshness: { kind: "nonce", nonce: nonce.toLowerCase() },
      evidence,
    });
  });
}
