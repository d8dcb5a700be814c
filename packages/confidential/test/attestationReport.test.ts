import {
  type AttestationPolicy,
  checkAttestation,
  createDevAuthority,
  type DevAttestationKey,
  type DevAuthority,
  generateEncryptionKeyPair,
  issueDevAttestationKey,
  NonceStore,
  produceDevEvidence,
  type TdMeasurements,
} from "@atoma/confidential";
import { beforeAll, describe, expect, it } from "vitest";

const reg = (byte: string) => `0x${byte.repeat(48)}` as const;
const MEASURED: TdMeasurements = {
  mrTd: reg("a1"),
  rtmr0: reg("b0"),
  rtmr1: reg("b1"),
  rtmr2: reg("b2"),
  rtmr3: reg("b3"),
};
const NODE = "0x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" as const;

let authority: DevAuthority;
let key: DevAttestationKey;
let policy: AttestationPolicy;
beforeAll(async () => {
  authority = await createDevAuthority();
  key = await issueDevAttestationKey(authority);
  policy = {
    measurements: [{ label: "dev image", ...MEASURED }],
    dev: { rootCertificatePem: authority.rootCertificatePem },
  };
});

async function evidenceFor(nonce: `0x${string}`, signingAddress: `0x${string}` = NODE) {
  const { publicKey } = await generateEncryptionKeyPair();
  return produceDevEvidence(key, MEASURED, {
    signingAddress,
    encryptionPublicKey: publicKey,
    freshness: { kind: "nonce", nonce },
  });
}

describe("checkAttestation: each check, for a person to read", () => {
  it("passes every check of honest dev evidence and labels it insecure", async () => {
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const report = await checkAttestation(await evidenceFor(nonce), policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
      nonces,
    });
    expect(report).toMatchObject({ ok: true, insecure: true, label: "insecure, development" });
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["quote", "passed"],
      ["measurements", "passed"],
      ["binding", "passed"],
      ["gpu", "skipped"],
      ["nonce", "passed"],
    ]);
  });

  it("names the failing check with its code and leaves the rest not reached", async () => {
    const nonce = new NonceStore().issue();
    const other = "0x1111111111111111111111111111111111111111" as const;
    const report = await checkAttestation(await evidenceFor(nonce, other), policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    expect(report.ok).toBe(false);
    expect(report.checks.slice(2).map((c) => [c.name, c.status, c.code])).toEqual([
      ["binding", "failed", "attestation_report_data_mismatch"],
      ["gpu", "not reached", undefined],
      ["nonce", "not reached", undefined],
    ]);
  });

  it("refuses dev evidence without a dev root, and skips (not passes) an empty allow-list", async () => {
    const nonce = new NonceStore().issue();
    const evidence = await evidenceFor(nonce);
    const expected = { signingAddress: NODE, freshness: { kind: "nonce" as const, nonce } };
    const refused = await checkAttestation(evidence, { measurements: policy.measurements }, expected);
    expect(refused.checks[0]).toMatchObject({
      name: "quote",
      status: "failed",
      code: "attestation_dev_refused",
    });
    // An empty allow-list approves nothing: the report is not ok (a skipped check is not a pass) unless the
    // caller asked only to read the measurements.
    const open = await checkAttestation(evidence, { ...policy, measurements: [] }, expected);
    expect(open.ok).toBe(false);
    expect(open.reason).toMatch(/no allow-list/);
    expect(open.checks[1]).toMatchObject({ name: "measurements", status: "skipped" });
    expect(open.measurements).toEqual(MEASURED);
    const shown = await checkAttestation(evidence, { ...policy, measurements: [] }, expected, {
      showOnly: true,
    });
    expect(shown.ok).toBe(true);
    const wrong = await checkAttestation(
      evidence,
      { ...policy, measurements: [{ mrTd: reg("ff") }] },
      expected,
    );
    expect(wrong.checks[1]).toMatchObject({ status: "failed", code: "attestation_unknown_measurement" });
  });
});
