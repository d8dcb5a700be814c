import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDevAuthority,
  issueDevAttestationKey,
  NonceStore,
  verifyAttestation,
} from "@atoma/confidential";
import { silentLogger } from "@atoma/core";
import { afterAll, describe, expect, it } from "vitest";
import { collateralFile } from "../src/confidential/collateralFile.js";
import { confidentialFromConfig } from "../src/confidential/confidentialConfig.js";
import { ConfigError } from "../src/errors.js";
import { configWith as configWithIn, MEASURED, NODE } from "./helpers/confidentialSettings.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-confidential-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const configWith = (confidential: Record<string, unknown>) => configWithIn(confidential, dir);

describe("confidential.* configuration", () => {
  it("is off by default", () => {
    expect(confidentialFromConfig(configWith({}), NODE, silentLogger)).toBeUndefined();
  });

  it("runs the dev kind from a key file (relative to the config's directory) whose evidence verifies", async () => {
    const authority = await createDevAuthority();
    const key = await issueDevAttestationKey(authority);
    writeFileSync(join(dir, "dev-key.json"), JSON.stringify({ ...key, measurements: MEASURED }));
    const compute = confidentialFromConfig(
      configWith({ kind: "dev", devKeyFile: "dev-key.json" }),
      NODE,
      silentLogger,
    );
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const verdict = await verifyAttestation(
      await compute!.forNonce(nonce),
      { measurements: [MEASURED], dev: { rootCertificatePem: authority.rootCertificatePem } },
      { signingAddress: NODE, freshness: { kind: "nonce", nonce }, nonces },
    );
    expect(verdict.insecure).toBe(true);
  });

  it("refuses what cannot run: no file for its kind, a malformed key file, an unknown kind", () => {
    expect(() => confidentialFromConfig(configWith({ kind: "tdx" }), NODE, silentLogger)).toThrow(
      ConfigError,
    );
    expect(() => confidentialFromConfig(configWith({ kind: "dev" }), NODE, silentLogger)).toThrow(
      ConfigError,
    );
    writeFileSync(join(dir, "bad-key.json"), JSON.stringify({ certificatePem: "x" }));
    expect(() =>
      confidentialFromConfig(configWith({ kind: "dev", devKeyFile: "bad-key.json" }), NODE, silentLogger),
    ).toThrow(/measurements/);
    expect(() => configWith({ kind: "sgx" })).toThrow(ConfigError);
  });

  it("runs the tdx kind on configfs-tsm with the collateral file", () => {
    writeFileSync(join(dir, "collateral.json"), JSON.stringify({ tcb_info: "{}" }));
    const compute = confidentialFromConfig(
      configWith({ kind: "tdx", collateralFile: "collateral.json", tsmRoot: join(dir, "tsm") }),
      NODE,
      silentLogger,
    );
    expect(compute?.source.kind).toBe("tdx");
  });
});

describe("the collateral file", () => {
  it("is read again once refreshed (no restart), and a half-written refresh keeps the last good one", async () => {
    const path = join(dir, "collateral.json");
    writeFileSync(path, JSON.stringify({ tcb_info: "first" }));
    const collateral = collateralFile(path, silentLogger);
    expect(await collateral()).toEqual({ tcb_info: "first" });
    writeFileSync(path, JSON.stringify({ tcb_info: "second, issued today" }));
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    expect(await collateral()).toEqual({ tcb_info: "second, issued today" });
    writeFileSync(path, '{"tcb_info": "third, cut');
    utimesSync(path, new Date(), new Date(Date.now() + 10_000));
    expect(await collateral()).toEqual({ tcb_info: "second, issued today" });
    expect(() => collateralFile(join(dir, "absent.json"), silentLogger)).toThrow(ConfigError);
  });
});
