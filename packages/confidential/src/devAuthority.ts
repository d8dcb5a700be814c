import { createPrivateKey, KeyObject, webcrypto } from "node:crypto";

const SIGNING = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A local certificate authority for development evidence: its root certificate is what a dev verifier trusts. */
export interface DevAuthority {
  rootCertificatePem: string;
  /** PKCS #8 PEM of the root's private key: stays on the developer's machine. */
  rootPrivateKeyPem: string;
}

/** A key the dev authority certified to sign development quotes, as a node holds it. */
export interface DevAttestationKey {
  certificatePem: string;
  privateKeyPem: string;
}

export interface DevCertificateOptions {
  /** Start of validity (default now). */
  notBefore?: Date;
  /** Days of validity (default 365 for the root, 30 for an attestation key). */
  validDays?: number;
}

/**
 * Loads the X.509 library on first use only: it needs the Reflect metadata polyfill (a global), which nothing that
 * merely verifies evidence should have to carry.
 */
async function x509Library(): Promise<typeof import("@peculiar/x509")> {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto);
  return x509;
}

const pkcs8Pem = (key: webcrypto.CryptoKey) =>
  KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString();

const importPrivate = (pem: string) =>
  webcrypto.subtle.importKey(
    "pkcs8",
    createPrivateKey(pem).export({ type: "pkcs8", format: "der" }),
    SIGNING,
    false,
    ["sign"],
  );

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString("hex")
    .replace(/^[89a-f]/, "1");

/** Creates a self-signed ECDSA P-256 root that may only certify end keys (path length 0). */
export async function createDevAuthority(options: DevCertificateOptions = {}): Promise<DevAuthority> {
  const x509 = await x509Library();
  const notBefore = options.notBefore ?? new Date();
  const keys = (await webcrypto.subtle.generateKey(SIGNING, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=Atoma development attestation root (insecure)",
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 365) * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return {
    rootCertificatePem: certificate.toString("pem"),
    rootPrivateKeyPem: pkcs8Pem(keys.privateKey),
  };
}

/** Issues a fresh P-256 attestation key certified by `authority`, the stand-in for a TDX quoting enclave's key. */
export async function issueDevAttestationKey(
  authority: DevAuthority,
  options: DevCertificateOptions = {},
): Promise<DevAttestationKey> {
  const x509 = await x509Library();
  const notBefore = options.notBefore ?? new Date();
  const root = new x509.X509Certificate(authority.rootCertificatePem);
  const keys = (await webcrypto.subtle.generateKey(SIGNING, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=Atoma development attestation key (insecure)",
    issuer: root.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 30) * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: await importPrivate(authority.rootPrivateKeyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKeyPem: pkcs8Pem(keys.privateKey) };
}
