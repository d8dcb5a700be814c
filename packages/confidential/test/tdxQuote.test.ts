import {
  AttestationMalformedError,
  AttestationSignatureError,
  CollateralExpiredError,
  ReportDataMismatchError,
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

  it("refuses the real quote once its collateral has expired, before looking at anything else", async () => {
    const run = verifyAttestation(
      evidence(),
      { measurements: [{ mrTd: REAL_MRTD }] },
      { ...expected, now: TDX_AFTER },
    );
    await expect(run).rejects.toThrow(CollateralExpiredError);
  });
});
