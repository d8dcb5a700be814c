import { generateKeyPairSync, sign, webcrypto } from "node:crypto";
import {
  CertificateRevokedError,
  type Collateral,
  CollateralStaleError,
  CrlExpiredError,
  CrlInvalidError,
  CrlMissingError,
  verifyTdxQuote,
} from "@atoma/confidential";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificateList } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import { checkPckChainCrls } from "../src/crl.js";
import { TDX_INSIDE, tdxFixture } from "./fixtures.js";

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const options = { nowSeconds: seconds(TDX_INSIDE), allowedTcbStatuses: ["UpToDate"] as const };
const bytes = (value: string | number[]) =>
  typeof value === "string" ? Buffer.from(value, "hex") : Buffer.from(value);

/** The node's collateral with some fields replaced, verified against the real quote at the pinned time. */
function run(change: (collateral: Collateral) => Partial<Collateral>, nowSeconds = options.nowSeconds) {
  const { quote, collateral } = tdxFixture("tdx_quote");
  return () => verifyTdxQuote(quote, { ...collateral, ...change(collateral) }, { ...options, nowSeconds });
}

/** The same CRL, its entries and dates untouched, signed by a P-256 key that is not Intel's. */
function resignedByAnotherKey(der: Buffer): string {
  const crl = AsnConvert.parse(der, CertificateList);
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const tbs = Buffer.from(AsnConvert.serialize(crl.tbsCertList));
  const forged = new CertificateList({
    tbsCertList: crl.tbsCertList,
    signatureAlgorithm: crl.signatureAlgorithm,
    signature: new Uint8Array(sign("sha256", tbs, privateKey)).buffer,
  });
  return Buffer.from(AsnConvert.serialize(forged)).toString("hex");
}

describe("the collateral's CRLs are checked, not taken on the node's word (review 14b HIGH-1)", () => {
  it("still verifies the real quote with the real CRLs", () => {
    expect(run(() => ({}))().tcbStatus).toBe("UpToDate");
  });

  it("refuses an empty PCK CRL, an empty root CA CRL, or both (a revoked PCK key would pass)", () => {
    for (const change of [{ pck_crl: [] }, { root_ca_crl: [] }, { pck_crl: "", root_ca_crl: "" }]) {
      expect(run(() => change)).toThrow(CrlMissingError);
      expect(run(() => change)).toThrow(expect.objectContaining({ code: "attestation_crl_missing" }));
    }
  });

  it("refuses a CRL that does not parse", () => {
    expect(run(() => ({ pck_crl: [1, 2, 3, 4] }))).toThrow(
      expect.objectContaining({ code: "attestation_crl_invalid" }),
    );
    expect(run((c) => ({ root_ca_crl: `${String(c.root_ca_crl)}00` }))).toThrow(CrlInvalidError);
  });

  it("refuses the real PCK CRL with its revoked entries kept but re-signed by another key", () => {
    const pck = run((c) => ({ pck_crl: resignedByAnotherKey(bytes(c.pck_crl as string | number[])) }));
    expect(pck).toThrow(CrlInvalidError);
    expect(pck).toThrow(expect.objectContaining({ code: "attestation_crl_invalid" }));
    const root = run((c) => ({
      root_ca_crl: resignedByAnotherKey(bytes(c.root_ca_crl as string | number[])),
    }));
    expect(root).toThrow(CrlInvalidError);
  });

  it("refuses Intel's genuine (empty) root CA CRL served in place of the PCK CRL: not the PCK CA's list", () => {
    expect(run((c) => ({ pck_crl: c.root_ca_crl }))).toThrow(CrlInvalidError);
  });

  it("refuses a PCK CRL past its nextUpdate while the TCB info is still inside its window", () => {
    // The PCK CRL's nextUpdate is 2025-07-19T10:00:35Z; the TCB info's 2025-07-19T10:16:03Z.
    const late = run(() => ({}), seconds(new Date("2025-07-19T10:05:00Z")));
    expect(late).toThrow(CrlExpiredError);
    expect(late).toThrow(expect.objectContaining({ code: "attestation_crl_expired" }));
  });
});

describe("the PCK CRL counts in the verifier's bound on the collateral's age", () => {
  it("refuses a PCK CRL older than maxCollateralAgeSeconds while the TCB info is just inside it", () => {
    // TCB info issued 2025-06-19T10:16:03Z, PCK CRL thisUpdate 2025-06-19T10:00:35Z; a week later, at 10:10,
    // the TCB info is 6 d 23 h 54 min old and the PCK CRL 7 d 0 h 9 min.
    const { quote, collateral } = tdxFixture("tdx_quote");
    const week = 7 * 86_400;
    const at = (nowSeconds: number) => () =>
      verifyTdxQuote(quote, collateral, { ...options, nowSeconds, maxCollateralAgeSeconds: week });
    const stale = at(seconds(new Date("2025-06-26T10:10:00Z")));
    expect(stale).toThrow(CollateralStaleError);
    expect(at(seconds(new Date("2025-06-26T09:59:00Z")))().tcbStatus).toBe("UpToDate");
  });
});

describe("a listed serial is refused once its CRL is authentic (a synthetic root → PCK CA → PCK chain)", async () => {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = () => webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const [rootKeys, caKeys, pckKeys] = await Promise.all([keys(), keys(), keys()]);
  const notBefore = new Date("2025-01-01T00:00:00Z");
  const notAfter = new Date("2030-01-01T00:00:00Z");
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Test root",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: rootKeys,
  });
  const issue = (
    serialNumber: string,
    subject: string,
    issuer: string,
    publicKey: webcrypto.CryptoKey,
    signingKey: webcrypto.CryptoKey,
  ) =>
    x509.X509CertificateGenerator.create({
      serialNumber,
      subject,
      issuer,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      publicKey,
      signingKey,
    });
  const ca = await issue("0a", "CN=Test PCK CA", root.subject, caKeys.publicKey, rootKeys.privateKey);
  const pck = await issue("3c16ed54", "CN=Test PCK", ca.subject, pckKeys.publicKey, caKeys.privateKey);
  const crl = async (issuer: string, signingKey: webcrypto.CryptoKey, serials: string[]) =>
    Buffer.from(
      (
        await x509.X509CrlGenerator.create({
          issuer,
          thisUpdate: new Date("2025-06-01T00:00:00Z"),
          nextUpdate: new Date("2025-07-01T00:00:00Z"),
          signingAlgorithm: alg,
          signingKey,
          entries: serials.map((serialNumber) => ({ serialNumber })),
        })
      ).rawData,
    );
  const chain = {
    pckDer: Buffer.from(pck.rawData),
    caDer: Buffer.from(ca.rawData),
    rootCaDer: Buffer.from(root.rawData),
  };
  const now = seconds(new Date("2025-06-15T00:00:00Z"));
  const emptyRootCrl = await crl(root.subject, rootKeys.privateKey, []);

  it("takes the chain when neither CRL lists it", async () => {
    const pckCrlDer = await crl(ca.subject, caKeys.privateKey, ["77"]);
    expect(() => checkPckChainCrls({ ...chain, rootCrlDer: emptyRootCrl, pckCrlDer }, now)).not.toThrow();
  });

  it("refuses a PCK certificate on the PCK CRL, and a PCK CA on the root CRL", async () => {
    const pckCrlDer = await crl(ca.subject, caKeys.privateKey, ["77", "3c16ed54"]);
    const revoked = () => checkPckChainCrls({ ...chain, rootCrlDer: emptyRootCrl, pckCrlDer }, now);
    expect(revoked).toThrow(CertificateRevokedError);
    expect(revoked).toThrow(expect.objectContaining({ code: "attestation_certificate_revoked" }));
    const rootCrlDer = await crl(root.subject, rootKeys.privateKey, ["0a"]);
    const cleanPck = await crl(ca.subject, caKeys.privateKey, []);
    expect(() => checkPckChainCrls({ ...chain, rootCrlDer, pckCrlDer: cleanPck }, now)).toThrow(
      CertificateRevokedError,
    );
  });

  it("refuses a PCK CRL signed by the root instead of the PCK CA, and one before its thisUpdate", async () => {
    const byRoot = await crl(ca.subject, rootKeys.privateKey, []);
    expect(() => checkPckChainCrls({ ...chain, rootCrlDer: emptyRootCrl, pckCrlDer: byRoot }, now)).toThrow(
      CrlInvalidError,
    );
    const pckCrlDer = await crl(ca.subject, caKeys.privateKey, []);
    const early = seconds(new Date("2025-05-31T00:00:00Z"));
    expect(() => checkPckChainCrls({ ...chain, rootCrlDer: emptyRootCrl, pckCrlDer }, early)).toThrow(
      CrlExpiredError,
    );
  });
});
