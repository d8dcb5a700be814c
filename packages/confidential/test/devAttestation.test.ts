import {
  AttestationMalformedError,
  type AttestationPolicy,
  AttestationSignatureError,
  CollateralExpiredError,
  createDevAuthority,
  type DevAttestationKey,
  type DevAuthority,
  DevEvidenceRefusedError,
  type EvidenceBinding,
  fromHex,
  generateEncryptionKeyPair,
  issueDevAttestationKey,
  NonceReplayError,
  NonceStore,
  NonceUnknownError,
  produceDevEvidence,
  ReportDataMismatchError,
  type TdMeasurements,
  toHex,
  UnknownMeasurementError,
  UntrustedRootError,
  verifyAttestation,
} from "@atoma/confidential";
import { beforeAll, describe, expect, it } from "vitest";
import { TDX_INSIDE, tdxFixture } from "./fixtures.js";

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
let encryptionKey: `0x${string}`;
let policy: AttestationPolicy;

beforeAll(async () => {
  authority = await createDevAuthority();
  key = await issueDevAttestationKey(authority);
  encryptionKey = (await generateEncryptionKeyPair()).publicKey;
  policy = { measurements: [{ label: "dev stack", mrTd: MEASURED.mrTd }], dev: authority };
});

const binding = (nonce: `0x${string}`): EvidenceBinding => ({
  signingAddress: NODE,
  encryptionPublicKey: encryptionKey,
  freshness: { kind: "nonce", nonce },
});

describe("dev attestation through the one verification entry point", () => {
  it("accepts dev evidence for a fresh nonce when the verifier trusts the dev root, labelled insecure", async () => {
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const verdict = await verifyAttestation(evidence, policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
      nonces,
    });
    expect(verdict).toMatchObject({ kind: "dev", insecure: true, label: "insecure, development" });
    expect(verdict.binding.encryptionPublicKey).toBe(encryptionKey);
    expect(verdict.allowed.label).toBe("dev stack");
  });

  it("refuses dev evidence when the verifier was not configured to accept it", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const run = verifyAttestation(
      evidence,
      { measurements: policy.measurements },
      { signingAddress: NODE, freshness: { kind: "nonce", nonce } },
    );
    await expect(run).rejects.toThrow(DevEvidenceRefusedError);
    await expect(run).rejects.toMatchObject({ code: "attestation_dev_refused" });
  });

  it("refuses evidence of an unknown kind and evidence without an encryption key", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const expected = { signingAddress: NODE, freshness: { kind: "nonce", nonce } } as const;
    const foreign = { ...evidence, kind: "sev-snp" } as unknown as typeof evidence;
    await expect(verifyAttestation(foreign, policy, expected)).rejects.toThrow(AttestationMalformedError);
    const keyless = { ...evidence, encryptionPublicKey: undefined } as unknown as typeof evidence;
    await expect(verifyAttestation(keyless, policy, expected)).rejects.toThrow(AttestationMalformedError);
  });

  it("refuses a quote of one kind relabelled as the other", async () => {
    const nonce = new NonceStore().issue();
    const expected = { signingAddress: NODE, freshness: { kind: "nonce", nonce } } as const;
    const dev = produceDevEvidence(key, MEASURED, binding(nonce));
    const { quote, collateral } = tdxFixture("tdx_quote");
    const asDev = { ...dev, quote: toHex(quote) };
    await expect(verifyAttestation(asDev, policy, expected)).rejects.toThrow(/not a development quote/);
    const asTdx = { kind: "tdx", quote: dev.quote, collateral, encryptionPublicKey: encryptionKey } as const;
    await expect(verifyAttestation(asTdx, policy, { ...expected, now: TDX_INSIDE })).rejects.toThrow(
      AttestationMalformedError,
    );
  });

  it("refuses a quote signed by a key another authority certified", async () => {
    const rogue = await issueDevAttestationKey(await createDevAuthority());
    const nonce = new NonceStore().issue();
    const run = verifyAttestation(produceDevEvidence(rogue, MEASURED, binding(nonce)), policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(UntrustedRootError);
  });

  it("refuses a dev quote with one flipped byte", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const bytes = fromHex(evidence.quote, "quote");
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    const run = verifyAttestation({ ...evidence, quote: toHex(bytes) }, policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(AttestationSignatureError);
  });

  it("refuses an attestation key whose certificate has expired", async () => {
    const old = await issueDevAttestationKey(authority, {
      notBefore: new Date(Date.now() - 40 * 86_400_000),
      validDays: 30,
    });
    const nonce = new NonceStore().issue();
    const run = verifyAttestation(produceDevEvidence(old, MEASURED, binding(nonce)), policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(CollateralExpiredError);
  });

  it("refuses measurements that are not on the allow-list", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, { ...MEASURED, mrTd: reg("ee") }, binding(nonce));
    const run = verifyAttestation(evidence, policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(UnknownMeasurementError);
  });

  it("refuses evidence that advertises an encryption key its report data does not bind", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const swapped = { ...evidence, encryptionPublicKey: (await generateEncryptionKeyPair()).publicKey };
    const run = verifyAttestation(swapped, policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(ReportDataMismatchError);
  });

  it("refuses evidence made for another node's signing address", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const run = verifyAttestation(evidence, policy, {
      signingAddress: "0x1111111111111111111111111111111111111111",
      freshness: { kind: "nonce", nonce },
    });
    await expect(run).rejects.toThrow(ReportDataMismatchError);
  });

  it("refuses evidence for another nonce, and evidence for last epoch", async () => {
    const nonces = new NonceStore();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonces.issue()));
    await expect(
      verifyAttestation(evidence, policy, {
        signingAddress: NODE,
        freshness: { kind: "nonce", nonce: nonces.issue() },
      }),
    ).rejects.toThrow(ReportDataMismatchError);
    const epochEvidence = produceDevEvidence(key, MEASURED, {
      ...binding(nonces.issue()),
      freshness: { kind: "epoch", epoch: 7n },
    });
    await expect(
      verifyAttestation(epochEvidence, policy, {
        signingAddress: NODE,
        freshness: { kind: "epoch", epoch: 8n },
      }),
    ).rejects.toThrow(ReportDataMismatchError);
    const verdict = await verifyAttestation(epochEvidence, policy, {
      signingAddress: NODE,
      freshness: { kind: "epoch", epoch: 7n },
    });
    expect(verdict.binding.freshness).toEqual({ kind: "epoch", epoch: 7n });
  });

  it("refuses a replay: the same evidence for the same nonce a second time", async () => {
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const expected = { signingAddress: NODE, freshness: { kind: "nonce", nonce }, nonces } as const;
    await verifyAttestation(evidence, policy, expected);
    const replay = verifyAttestation(evidence, policy, expected);
    await expect(replay).rejects.toThrow(NonceReplayError);
    await expect(replay).rejects.toMatchObject({ code: "attestation_nonce_replayed" });
  });

  it("refuses evidence for a nonce this client never issued", async () => {
    const nonce = new NonceStore().issue();
    const evidence = produceDevEvidence(key, MEASURED, binding(nonce));
    const run = verifyAttestation(evidence, policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
      nonces: new NonceStore(),
    });
    await expect(run).rejects.toThrow(NonceUnknownError);
  });
});
