import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createDevAuthority,
  type DevAuthority,
  type HexString,
  issueDevAttestationKey,
  type TdMeasurements,
} from "@atoma/confidential";

const register = (byte: string) => `0x${byte.repeat(48)}` as HexString;

/** What a dev node's (insecure) evidence measures: "the dev image", the allow-list entry `atoma attest` takes. */
export const DEV_MEASUREMENTS: TdMeasurements = {
  mrTd: register("de"),
  rtmr0: register("d0"),
  rtmr1: register("d1"),
  rtmr2: register("d2"),
  rtmr3: register("d3"),
};

/** The ready line's `attestation`: the dev kind's root and measurements, for `atoma attest --dev-root`. */
export interface DevAttestationInfo {
  kind: "dev";
  label: "insecure, development";
  /** PEM file of the dev authority's root certificate. */
  rootCertificate: string;
  /** The same certificate's PEM: a network file carries it, for `createAtomaClient({ confidential: true })`. */
  rootCertificatePem: string;
  measurements: TdMeasurements;
}

/** A day of margin: a root about to expire is replaced rather than used. */
const MARGIN_MS = 86_400_000;

/**
 * The local development attestation authority under `<baseDir>/attestation/`: made on the first start, kept with
 * the state directory (its key file mode 0600), replaced when its root has expired.
 */
export async function devAttestationAuthority(
  baseDir: string,
): Promise<{ authority: DevAuthority; info: DevAttestationInfo }> {
  const dir = join(baseDir, "attestation");
  const rootFile = join(dir, "dev-root.pem");
  const keyFile = join(dir, "dev-root-key.pem");
  let authority: DevAuthority | undefined;
  if (existsSync(rootFile) && existsSync(keyFile)) {
    const rootCertificatePem = readFileSync(rootFile, "utf8");
    if (new Date(new X509Certificate(rootCertificatePem).validTo).getTime() - MARGIN_MS > Date.now())
      authority = { rootCertificatePem, rootPrivateKeyPem: readFileSync(keyFile, "utf8") };
  }
  if (!authority) {
    authority = await createDevAuthority();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, authority.rootPrivateKeyPem, { mode: 0o600 });
    writeFileSync(rootFile, authority.rootCertificatePem);
  }
  return {
    authority,
    info: {
      kind: "dev",
      label: "insecure, development",
      rootCertificate: rootFile,
      rootCertificatePem: authority.rootCertificatePem,
      measurements: DEV_MEASUREMENTS,
    },
  };
}

/** Issues a node's dev attestation key (fresh each start) and writes the file its `confidential.devKeyFile` names. */
export async function writeDevAttestationKey(authority: DevAuthority, nodeDir: string): Promise<string> {
  const key = await issueDevAttestationKey(authority);
  const file = join(nodeDir, "dev-attestation-key.json");
  mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify({ ...key, measurements: DEV_MEASUREMENTS }), { mode: 0o600 });
  return file;
}
