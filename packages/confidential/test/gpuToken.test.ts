import { createHmac } from "node:crypto";
import {
  bindingReportData,
  createDevAuthority,
  type EvidenceBinding,
  GpuEvidenceMissingError,
  GpuTokenAlgorithmError,
  GpuTokenClaimsError,
  GpuTokenExpiredError,
  GpuTokenSignatureError,
  gpuNonceFor,
  issueDevAttestationKey,
  NRAS_ISSUER,
  produceDevEvidence,
  verifyAttestation,
  verifyNvidiaGpuToken,
} from "@atoma/confidential";
import {
  exportJWK,
  type GenerateKeyPairResult,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";

const NOW = new Date("2026-01-10T12:00:00Z");
const NONCE = `0x${"9c".repeat(32)}` as const;
const KID = "nras-test-key-1";

let nras: GenerateKeyPairResult;
let jwks: JSONWebKeySet;

beforeAll(async () => {
  nras = await generateKeyPair("ES384", { extractable: true });
  jwks = { keys: [{ ...(await exportJWK(nras.publicKey)), kid: KID, alg: "ES384", use: "sig" }] };
});

const claims = (extra: JWTPayload = {}): JWTPayload => ({
  eat_nonce: NONCE.slice(2),
  "x-nvidia-overall-att-result": true,
  ...extra,
});

async function token(
  key: GenerateKeyPairResult["privateKey"],
  payload: JWTPayload = claims(),
  expiresAt = NOW.getTime() / 1000 + 3600,
) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES384", kid: KID })
    .setIssuer(NRAS_ISSUER)
    .setIssuedAt(Math.floor(NOW.getTime() / 1000) - 60)
    .setExpirationTime(Math.floor(expiresAt))
    .sign(key);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const verify = (jwt: string) => verifyNvidiaGpuToken(jwt, { jwks, expectedNonce: NONCE, now: NOW });

describe("NVIDIA GPU attestation token (ES384 JWT against a key set)", () => {
  it("accepts a token signed by a key of the set, for our nonce, with a passing overall result", async () => {
    const verdict = await verify(await token(nras.privateKey));
    expect(verdict.overallResult).toBe(true);
    expect(verdict.issuer).toBe(NRAS_ISSUER);
  });

  it("refuses a token signed by another key under the same key id", async () => {
    const other = await generateKeyPair("ES384");
    const run = verify(await token(other.privateKey));
    await expect(run).rejects.toThrow(GpuTokenSignatureError);
    await expect(run).rejects.toMatchObject({ code: "gpu_token_signature_invalid" });
  });

  it("refuses an expired token", async () => {
    const run = verify(await token(nras.privateKey, claims(), NOW.getTime() / 1000 - 1));
    await expect(run).rejects.toThrow(GpuTokenExpiredError);
    await expect(run).rejects.toMatchObject({ code: "gpu_token_expired" });
  });

  it('refuses an unsigned token (alg "none") that only decodes', async () => {
    const iat = Math.floor(NOW.getTime() / 1000);
    const unsigned = `${b64url({ alg: "none", kid: KID })}.${b64url({ ...claims(), iss: NRAS_ISSUER, iat, exp: iat + 3600 })}.`;
    const run = verify(unsigned);
    await expect(run).rejects.toThrow(GpuTokenAlgorithmError);
    await expect(run).rejects.toMatchObject({ code: "gpu_token_algorithm_refused" });
  });

  it("refuses HS256 keyed with the published public key (algorithm confusion)", async () => {
    const iat = Math.floor(NOW.getTime() / 1000);
    const signingInput = `${b64url({ alg: "HS256", kid: KID })}.${b64url({ ...claims(), iss: NRAS_ISSUER, iat, exp: iat + 3600 })}`;
    const secret = JSON.stringify(jwks.keys[0]);
    const mac = createHmac("sha256", secret).update(signingInput).digest("base64url");
    await expect(verify(`${signingInput}.${mac}`)).rejects.toThrow(GpuTokenAlgorithmError);
  });

  it("refuses a valid token for another nonce, a failed overall result, and another issuer", async () => {
    await expect(
      verify(await token(nras.privateKey, claims({ eat_nonce: "ab".repeat(32) }))),
    ).rejects.toThrow(GpuTokenClaimsError);
    await expect(
      verify(await token(nras.privateKey, claims({ "x-nvidia-overall-att-result": false }))),
    ).rejects.toThrow(GpuTokenClaimsError);
    const foreign = await new SignJWT(claims())
      .setProtectedHeader({ alg: "ES384", kid: KID })
      .setIssuer("https://attacker.example")
      .setIssuedAt(Math.floor(NOW.getTime() / 1000))
      .setExpirationTime(Math.floor(NOW.getTime() / 1000) + 3600)
      .sign(nras.privateKey);
    await expect(verifyNvidiaGpuToken(foreign, { jwks, expectedNonce: NONCE, now: NOW })).rejects.toThrow(
      GpuTokenClaimsError,
    );
  });

  it("refuses a token that is not a JWT at all", async () => {
    await expect(verify("not-a-token")).rejects.toThrow(GpuTokenSignatureError);
  });
});

describe("GPU evidence inside verifyAttestation", () => {
  const reg = `0x${"c4".repeat(48)}` as const;
  const measured = { mrTd: reg, rtmr0: reg, rtmr1: reg, rtmr2: reg, rtmr3: reg };
  const binding: EvidenceBinding = {
    signingAddress: `0x${"77".repeat(20)}`,
    encryptionPublicKey: `0x${"88".repeat(32)}`,
    freshness: { kind: "epoch", epoch: 3n },
  };

  it("accepts a GPU token whose nonce is derived from the quote's report data, and refuses a missing one", async () => {
    const notBefore = new Date(NOW.getTime() - 86_400_000);
    const authority = await createDevAuthority({ notBefore });
    const evidence = produceDevEvidence(
      await issueDevAttestationKey(authority, { notBefore }),
      measured,
      binding,
    );
    const gpuNonce = gpuNonceFor(bindingReportData(binding));
    const gpuToken = await token(nras.privateKey, claims({ eat_nonce: gpuNonce.slice(2) }));
    const policy = { measurements: [{ mrTd: reg }], dev: authority, gpu: { jwks, required: true } };
    const expected = { signingAddress: binding.signingAddress, freshness: binding.freshness, now: NOW };
    const verdict = await verifyAttestation({ ...evidence, gpuToken }, policy, expected);
    expect(verdict.gpu?.overallResult).toBe(true);
    await expect(verifyAttestation(evidence, policy, expected)).rejects.toThrow(GpuEvidenceMissingError);
    const unchecked = await verifyAttestation(
      { ...evidence, gpuToken },
      { measurements: policy.measurements, dev: authority },
      expected,
    );
    expect(unchecked).toMatchObject({ gpuUnchecked: true });
    expect(unchecked.gpu).toBeUndefined();
    const stale = await token(nras.privateKey); // signed for another nonce
    await expect(verifyAttestation({ ...evidence, gpuToken: stale }, policy, expected)).rejects.toThrow(
      GpuTokenClaimsError,
    );
  });
});
