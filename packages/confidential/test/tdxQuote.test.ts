import {
  AttestationMalformedError,
  AttestationSignatureError,
  CollateralExpiredError,
  CollateralStaleError,
  classifyDcapError,
  ReportDataMismatchError,
  TcbEvaluationOutdatedError,
  TcbOutdatedError,
  type TdxEvidence,
  toHex,
  UnknownMeasurementError,
  verifyAttestation,
  verifyTdxQuote,
} from "@atoma/confidential";
import { describe, expect, it } from "vitest";
import { OUTDATED_INSIDE, SGX_INSIDE, TDX_AFTER, TDX_INSIDE, tdxFixture } from "./fixtures.js";

/** Flips bits of one byte in place. */
function flip(bytes: Uint8Array, index: number, mask: number): void {
  bytes[index] = (bytes[index] ?? 0) ^ mask;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const upToDate = ["UpToDate"] as const;
const REAL_MRTD =
  "0x91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";

describe("Intel TDX quote verification (real quote and collateral)", () => {
  it("verifies the real quote inside its collateral window and reads its measurements", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    const verified = verifyTdxQuote(quote, collateral, {
      nowSeconds: seconds(TDX_INSIDE),
      allowedTcbStatuses: upToDate,
    });
    expect(verified.tcbStatus).toBe("UpToDate");
    expect(verified.measurements.mrTd).toBe(REAL_MRTD);
    expect(verified.reportData).toHaveLength(64);
  });

  it("refuses the quote with one byte of the report body flipped", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    flip(quote, 48 + 520, 0x01); // the first byte of the TD report's report data
    const run = () =>
      verifyTdxQuote(quote, collateral, { nowSeconds: seconds(TDX_INSIDE), allowedTcbStatuses: upToDate });
    expect(run).toThrow(AttestationSignatureError);
    expect(run).toThrow(expect.objectContaining({ code: "attestation_signature_invalid" }));
  });

  it("refuses the quote with one byte of its signature flipped", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    flip(quote, 640, 0x80); // inside the ECDSA signature over header and report
    expect(() =>
      verifyTdxQuote(quote, collateral, { nowSeconds: seconds(TDX_INSIDE), allowedTcbStatuses: upToDate }),
    ).toThrow(AttestationSignatureError);
  });

  it("refuses expired collateral: the verification time is past its window", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    const run = () =>
      verifyTdxQuote(quote, collateral, { nowSeconds: seconds(TDX_AFTER), allowedTcbStatuses: upToDate });
    expect(run).toThrow(CollateralExpiredError);
    expect(run).toThrow(expect.objectContaining({ code: "attestation_collateral_expired" }));
  });

  it("refuses collateral whose TCB info was edited to stretch its window past expiry", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    const stretched = collateral.tcb_info.replace(
      '"nextUpdate":"2025-07-19T10:16:03Z"',
      '"nextUpdate":"2030-01-01T00:00:00Z"',
    );
    expect(stretched).not.toBe(collateral.tcb_info);
    const run = () =>
      verifyTdxQuote(
        quote,
        { ...collateral, tcb_info: stretched },
        {
          nowSeconds: seconds(TDX_AFTER),
          allowedTcbStatuses: upToDate,
        },
      );
    expect(run).toThrow(AttestationSignatureError);
  });

  it("refuses collateral issued after the verification time", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    expect(() =>
      verifyTdxQuote(quote, collateral, {
        nowSeconds: seconds(new Date("2025-06-01T00:00:00Z")),
        allowedTcbStatuses: upToDate,
      }),
    ).toThrow(CollateralExpiredError);
  });

  it("refuses the outdated platform (tdx_quote_outdated) inside its own window", () => {
    const { quote, collateral } = tdxFixture("tdx_quote_outdated");
    const run = () =>
      verifyTdxQuote(quote, collateral, {
        nowSeconds: seconds(OUTDATED_INSIDE),
        allowedTcbStatuses: upToDate,
      });
    expect(run).toThrow(TcbOutdatedError);
    expect(run).toThrow(expect.objectContaining({ code: "attestation_tcb_outdated" }));
  });

  it("refuses a TCB status the policy does not list", () => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    expect(() =>
      verifyTdxQuote(quote, collateral, {
        nowSeconds: seconds(TDX_INSIDE),
        allowedTcbStatuses: ["SWHardeningNeeded"],
      }),
    ).toThrow(TcbOutdatedError);
  });

  it("refuses a genuine SGX enclave quote passed off as TDX, whatever TCB statuses are accepted", () => {
    const { quote, collateral } = tdxFixture("sgx_quote");
    const run = () =>
      verifyTdxQuote(quote, collateral, {
        nowSeconds: seconds(SGX_INSIDE),
        allowedTcbStatuses: [
          "UpToDate",
          "SWHardeningNeeded",
          "ConfigurationNeeded",
          "ConfigurationAndSWHardeningNeeded",
          "OutOfDate",
          "OutOfDateConfigurationNeeded",
        ],
      });
    expect(run).toThrow(AttestationMalformedError);
    expect(run).toThrow(/not a TDX quote/);
  });

  it("refuses bytes that are not a quote", () => {
    const { collateral } = tdxFixture("tdx_quote");
    expect(() =>
      verifyTdxQuote(new Uint8Array(100), collateral, {
        nowSeconds: seconds(TDX_INSIDE),
        allowedTcbStatuses: upToDate,
      }),
    ).toThrow(AttestationMalformedError);
  });
});

describe("verifyAttestation on the real TDX quote", () => {
  const evidence = (): TdxEvidence => {
    const { quote, collateral } = tdxFixture("tdx_quote");
    return { kind: "tdx", quote: toHex(quote), collateral, encryptionPublicKey: `0x${"11".repeat(32)}` };
  };
  const expected = {
    signingAddress: `0x${"22".repeat(20)}`,
    freshness: { kind: "epoch", epoch: 1n },
    now: TDX_INSIDE,
  } as const;

  it("refuses an MRTD that is not on the allow-list", async () => {
    const run = verifyAttestation(evidence(), { measurements: [{ mrTd: `0x${"ab".repeat(48)}` }] }, expected);
    await expect(run).rejects.toThrow(UnknownMeasurementError);
    await expect(run).rejects.toMatchObject({ code: "attestation_unknown_measurement" });
  });

  it("refuses a known MRTD whose RTMR differs from the allowed one", async () => {
    const policy = { measurements: [{ mrTd: REAL_MRTD, rtmr3: `0x${"00".repeat(47)}01` } as const] };
    await expect(verifyAttestation(evidence(), policy, expected)).rejects.toThrow(UnknownMeasurementError);
  });

  it("refuses an allowed quote whose report data does not bind the expected key", async () => {
    const run = verifyAttestation(evidence(), { measurements: [{ mrTd: REAL_MRTD }] }, expected);
    await expect(run).rejects.toThrow(ReportDataMismatchError);
    await expect(run).rejects.toMatchObject({ code: "attestation_report_data_mismatch" });
  });

  it("refuses collateral inside its window but older than the verifier takes, or from an earlier TCB evaluation", async () => {
    const policy = { measurements: [{ mrTd: REAL_MRTD }] } as const;
    // Three weeks after its issue, a week before its nextUpdate: DCAP alone takes it (the review's attack).
    const late = { ...expected, now: new Date("2025-07-10T00:00:00Z") };
    const old = verifyAttestation(evidence(), policy, late);
    await expect(old).rejects.toThrow(CollateralStaleError);
    await expect(old).rejects.toMatchObject({ code: "attestation_collateral_stale" });
    // Taken when the verifier allows that age (the report data then fails, as the fixture binds no key of ours).
    await expect(
      verifyAttestation(evidence(), { ...policy, maxCollateralAgeSeconds: 30 * 24 * 3600 }, late),
    ).rejects.toThrow(ReportDataMismatchError);
    // The verifier knows of Intel's evaluation 18: the node's real TCB info (17) predates it, with its own code.
    const behind = verifyAttestation(evidence(), { ...policy, minTcbEvaluationDataNumber: 18 }, expected);
    await expect(behind).rejects.toThrow(TcbEvaluationOutdatedError);
    await expect(behind).rejects.toMatchObject({
      code: "attestation_tcb_evaluation_outdated",
      evaluation: 17,
      minimum: 18,
    });
    await expect(
      verifyAttestation(evidence(), { ...policy, minTcbEvaluationDataNumber: 17 }, expected),
    ).rejects.toThrow(ReportDataMismatchError);
  });

  it("refuses the real quote once its collateral has expired, before looking at anything else", async () => {
    const run = verifyAttestation(
      evidence(),
      { measurements: [{ mrTd: REAL_MRTD }] },
      { ...expected, now: TDX_AFTER },
    );
    await expect(run).rejects.toThrow(CollateralExpiredError);
  });
});

describe("the DCAP library's failures, each with its own code (review 14 L2)", () => {
  it("maps each message of the pinned @phala/dcap-qvl to its failure, and an unknown one to attestation_quote_refused", () => {
    const cases: [string, string][] = [
      ["Debug mode is enabled", "attestation_td_attributes_refused"],
      ["SEPT_VE_DISABLE is not enabled", "attestation_td_attributes_refused"],
      ["Reserved bits in TD attributes are set", "attestation_td_attributes_refused"],
      ["Invalid mr service td", "attestation_td_attributes_refused"],
      ["QE MRSIGNER mismatch: expected A, got B", "attestation_qe_identity_mismatch"],
      ["QE ISVPRODID mismatch: expected 2, got 1", "attestation_qe_identity_mismatch"],
      ["QE report hash mismatch", "attestation_qe_identity_mismatch"],
      ["Fmspc mismatch", "attestation_collateral_mismatch"],
      ["TDX quote with non-TDX TCB info in the collateral", "attestation_collateral_mismatch"],
      ["Certificate is revoked", "attestation_certificate_revoked"],
      ["TCBInfo expired", "attestation_collateral_expired"],
      ["QE Identity issue date is in the future", "attestation_collateral_expired"],
      ["No matching TCB level found", "attestation_tcb_outdated"],
      ["QE ISVSVN 2 is below minimum required 3 from QE Identity", "attestation_tcb_outdated"],
      ["ISV enclave report signature is invalid", "attestation_signature_invalid"],
      ["Failed to verify certificate chain - leaf signature invalid", "attestation_signature_invalid"],
      ["Signature is invalid for tcb_info", "attestation_signature_invalid"],
      ["Failed to decode quote", "attestation_malformed"],
      ["Unsupported DCAP quote version", "attestation_malformed"],
      ["a wording a later version may bring", "attestation_quote_refused"],
    ];
    for (const [message, code] of cases)
      expect([message, classifyDcapError(new Error(message)).code]).toEqual([message, code]);
  });
});
