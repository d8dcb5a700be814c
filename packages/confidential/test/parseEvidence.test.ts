import {
  AttestationMalformedError,
  createDevAuthority,
  issueDevAttestationKey,
  parseEvidence,
  produceDevEvidence,
  toHex,
} from "@atoma/confidential";
import { describe, expect, it } from "vitest";
import { tdxFixture } from "./fixtures.js";

const reg = `0x${"a1".repeat(48)}` as const;
const measured = { mrTd: reg, rtmr0: reg, rtmr1: reg, rtmr2: reg, rtmr3: reg };

describe("evidence received from a node", () => {
  it("passes real TDX evidence and dev evidence through a JSON round trip unchanged", async () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    const tdx = {
      kind: "tdx",
      quote: toHex(quote),
      collateral,
      encryptionPublicKey: `0x${"11".repeat(32)}`,
    } as const;
    expect(parseEvidence(JSON.parse(JSON.stringify(tdx)))).toEqual(tdx);
    const key = await issueDevAttestationKey(await createDevAuthority());
    const dev = produceDevEvidence(key, measured, {
      signingAddress: `0x${"22".repeat(20)}`,
      encryptionPublicKey: `0x${"11".repeat(32)}`,
      freshness: { kind: "epoch", epoch: 2n },
    });
    expect(parseEvidence(JSON.parse(JSON.stringify({ ...dev, gpuToken: "a.b.c" })))).toEqual({
      ...dev,
      gpuToken: "a.b.c",
    });
  });

  it("refuses what a hostile node might send instead, naming the field", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    const good = {
      kind: "tdx",
      quote: toHex(quote),
      collateral,
      encryptionPublicKey: `0x${"11".repeat(32)}`,
    };
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/],
      [[good], /JSON object/],
      [{ ...good, kind: "sev-snp" }, /evidence.kind/],
      [{ ...good, quote: "not hex" }, /evidence.quote/],
      [{ ...good, quote: `0x${"00".repeat(20_000)}` }, /longer than/],
      [{ ...good, encryptionPublicKey: `0x${"11".repeat(31)}` }, /encryptionPublicKey/],
      [{ ...good, collateral: "x" }, /collateral must be an object/],
      [{ ...good, collateral: { ...collateral, tcb_info: 5 } }, /collateral.tcb_info/],
      [{ ...good, collateral: { ...collateral, pck_crl: [1, 2, 999] } }, /collateral.pck_crl/],
      [{ ...good, gpuToken: 42 }, /gpuToken/],
      [{ ...good, kind: "dev" }, /attestationKeyCertificate/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseEvidence(value)).toThrow(AttestationMalformedError);
      expect(() => parseEvidence(value)).toThrow(message);
    }
  });
});
