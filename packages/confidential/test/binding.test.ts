import {
  AttestationMalformedError,
  bindingReportData,
  checkReportData,
  type EvidenceBinding,
  NonceReplayError,
  NonceStore,
  NonceUnknownError,
  ReportDataMismatchError,
  toHex,
} from "@atoma/confidential";
import { describe, expect, it } from "vitest";

const base: EvidenceBinding = {
  signingAddress: `0x${"12".repeat(20)}`,
  encryptionPublicKey: `0x${"34".repeat(32)}`,
  freshness: { kind: "nonce", nonce: `0x${"56".repeat(32)}` },
};

describe("report data binding", () => {
  it("is 64 bytes, deterministic, and checks against the same binding", () => {
    const data = bindingReportData(base);
    expect(data).toHaveLength(64);
    expect(toHex(bindingReportData(base))).toBe(toHex(data));
    expect(() => checkReportData(data, base)).not.toThrow();
  });

  it("changes with every field, so evidence for one binding never checks against another", () => {
    const variants: EvidenceBinding[] = [
      { ...base, signingAddress: `0x${"13".repeat(20)}` },
      { ...base, encryptionPublicKey: `0x${"35".repeat(32)}` },
      { ...base, freshness: { kind: "nonce", nonce: `0x${"57".repeat(32)}` } },
      // An epoch whose 32 bytes equal the nonce's: the freshness kind is part of the hash.
      { ...base, freshness: { kind: "epoch", epoch: BigInt(`0x${"56".repeat(32)}`) } },
    ];
    const data = bindingReportData(base);
    for (const variant of variants)
      expect(() => checkReportData(data, variant)).toThrow(ReportDataMismatchError);
  });

  it("refuses malformed fields with a clear error", () => {
    expect(() => bindingReportData({ ...base, signingAddress: "0x1234" })).toThrow(AttestationMalformedError);
    expect(() => bindingReportData({ ...base, encryptionPublicKey: "0xzz" as `0x${string}` })).toThrow(
      AttestationMalformedError,
    );
    expect(() => bindingReportData({ ...base, freshness: { kind: "epoch", epoch: -1n } })).toThrow(
      AttestationMalformedError,
    );
  });
});

describe("nonce store", () => {
  it("accepts an issued nonce once and refuses it after", () => {
    const store = new NonceStore();
    const nonce = store.issue();
    store.consume(nonce);
    expect(() => store.consume(nonce)).toThrow(NonceReplayError);
  });

  it("refuses a nonce it never issued and one issued longer ago than its TTL", () => {
    let now = 1_000_000;
    const store = new NonceStore({ ttlMs: 1000, now: () => now });
    expect(() => store.consume(`0x${"00".repeat(32)}`)).toThrow(NonceUnknownError);
    const nonce = store.issue();
    now += 1001;
    expect(() => store.consume(nonce)).toThrow(NonceUnknownError);
  });

  it("stays bounded: the oldest nonces go first when it is full", () => {
    const store = new NonceStore({ capacity: 2 });
    const first = store.issue();
    store.issue();
    const third = store.issue();
    store.issue();
    expect(() => store.consume(first)).toThrow(NonceUnknownError);
    expect(() => store.consume(third)).not.toThrow();
  });
});
