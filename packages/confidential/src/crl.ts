import { type KeyObject, verify, X509Certificate } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificateList } from "@peculiar/asn1-x509";
import { type Collateral, Quote, utils } from "@phala/dcap-qvl";
import { CertificateRevokedError, CrlExpiredError, CrlInvalidError, CrlMissingError } from "./errors.js";

/** One CRL of the collateral once its signature and dates have been checked: its revoked serials. */
interface CheckedCrl {
  revoked: Set<string>;
  /** Its thisUpdate, in seconds since the epoch. */
  issuedAt: number;
}

const normalSerial = (hex: string) => hex.toLowerCase().replace(/^0+/, "") || "0";

function crlBytes(value: unknown, what: string): Buffer {
  const bytes =
    typeof value === "string"
      ? Buffer.from(value, "hex")
      : Array.isArray(value)
        ? Buffer.from(value as number[])
        : Buffer.alloc(0);
  if (bytes.length === 0) throw new CrlMissingError(`the collateral has no ${what}`);
  return bytes;
}

/** The length of the DER element that starts `der` (header included), as its header states it. */
function derLength(der: Buffer): number {
  const first = der[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || der.length < 2 + count) return -1;
  return 2 + count + der.subarray(2, 2 + count).readUIntBE(0, count);
}

/** Parses a DER CRL, checks it is signed by `issuer` and that `nowSeconds` lies in [thisUpdate, nextUpdate). */
function checkCrl(der: Buffer, issuer: KeyObject, nowSeconds: number, what: string): CheckedCrl {
  let crl: CertificateList;
  try {
    crl = AsnConvert.parse(der, CertificateList);
    if (derLength(der) !== der.length) throw new Error("bytes after the CRL's SEQUENCE");
  } catch (error) {
    throw new CrlInvalidError(`the collateral's ${what} is not a DER X.509 CRL`, { cause: error });
  }
  const tbs = crl.tbsCertListRaw ?? AsnConvert.serialize(crl.tbsCertList);
  let signed = false;
  try {
    signed = verify("sha256", Buffer.from(tbs), issuer, Buffer.from(crl.signature));
  } catch (error) {
    throw new CrlInvalidError(`the collateral's ${what} has an unreadable signature`, { cause: error });
  }
  if (!signed) throw new CrlInvalidError(`the collateral's ${what} is not signed by the CA that issues it`);
  const thisUpdate = crl.tbsCertList.thisUpdate.getTime().getTime() / 1000;
  const next = crl.tbsCertList.nextUpdate?.getTime().getTime();
  if (next === undefined) throw new CrlExpiredError(`the collateral's ${what} has no nextUpdate`);
  if (nowSeconds < thisUpdate || nowSeconds >= next / 1000)
    throw new CrlExpiredError(`the collateral's ${what} is outside its validity window`, {
      details: `thisUpdate ${new Date(thisUpdate * 1000).toISOString()}, nextUpdate ${new Date(next).toISOString()}`,
    });
  const revoked = new Set(
    (crl.tbsCertList.revokedCertificates ?? []).map((entry) =>
      normalSerial(Buffer.from(entry.userCertificate).toString("hex")),
    ),
  );
  return { revoked, issuedAt: thisUpdate };
}

function refuseIfListed(crl: CheckedCrl, certificate: X509Certificate, what: string): void {
  if (crl.revoked.has(normalSerial(certificate.serialNumber)))
    throw new CertificateRevokedError(`the quote's ${what} is on Intel's revocation list`, {
      details: certificate.serialNumber,
    });
}

/** The DER certificates a PCK chain's revocation is checked for, and the two CRLs (DER) that must cover them. */
export interface PckChainCrls {
  pckDer: Buffer;
  caDer: Buffer;
  rootCaDer: Buffer;
  rootCrlDer: Buffer;
  pckCrlDer: Buffer;
}

/**
 * Checks both CRLs against the chain: each parses as DER, is signed by its issuer (the root CA CRL by the trusted
 * root, the PCK CRL by the PCK CA), lies inside its thisUpdate/nextUpdate window at `nowSeconds`, and lists neither
 * the PCK certificate nor its CA. Returns the PCK CRL's thisUpdate (seconds), for the verifier's bound on age.
 */
export function checkPckChainCrls(input: PckChainCrls, nowSeconds: number): number {
  const root = new X509Certificate(input.rootCaDer);
  const pck = new X509Certificate(input.pckDer);
  const ca = new X509Certificate(input.caDer);
  if (!ca.verify(root.publicKey) || !pck.verify(ca.publicKey))
    throw new CrlInvalidError("the quote's PCK chain does not lead to the trusted root");
  const rootCrl = checkCrl(input.rootCrlDer, root.publicKey, nowSeconds, "root CA CRL");
  const pckCrl = checkCrl(input.pckCrlDer, ca.publicKey, nowSeconds, "PCK CRL");
  refuseIfListed(rootCrl, ca, "PCK CA certificate");
  refuseIfListed(pckCrl, pck, "PCK certificate");
  return pckCrl.issuedAt;
}

/**
 * `@phala/dcap-qvl` looks a serial up in whatever CRLs it is handed and skips one that does not parse, so the node
 * could serve none. This checks them itself (`checkPckChainCrls`) for the PCK certificate and CA of the quote's own
 * chain, which DCAP has verified up to the trusted root: both CRLs must be present. Run after DCAP's verification;
 * returns the PCK CRL's thisUpdate (seconds).
 */
export function checkCollateralCrls(
  quote: Uint8Array,
  collateral: Collateral,
  rootCaDer: Buffer,
  nowSeconds: number,
): number {
  const rootCrlDer = crlBytes(collateral.root_ca_crl, "root CA CRL");
  const pckCrlDer = crlBytes(collateral.pck_crl, "PCK CRL");
  const [pckDer, caDer] = utils.extractCerts(Buffer.from(Quote.parse(quote).rawCertChain()));
  if (pckDer === undefined || caDer === undefined)
    throw new CrlInvalidError("the quote's certificate chain has no PCK CA to check the PCK CRL against");
  return checkPckChainCrls({ pckDer, caDer, rootCaDer, rootCrlDer, pckCrlDer }, nowSeconds);
}
