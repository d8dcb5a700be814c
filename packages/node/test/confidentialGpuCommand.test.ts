import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createDevAuthority,
  type HexString,
  issueDevAttestationKey,
  NonceStore,
  verifyAttestation,
} from "@atoma/confidential";
import { silentLogger } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ConfidentialCompute } from "../src/confidential/confidentialCompute.js";
import { confidentialFromConfig } from "../src/confidential/confidentialConfig.js";
import { ConfigError } from "../src/errors.js";
import { configWith, MEASURED, NODE } from "./helpers/confidentialSettings.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-gpu-command-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FAKE_NRAS = fileURLToPath(new URL("./fixtures/fake-nras.mjs", import.meta.url));

const nras = generateKeyPairSync("ec", { namedCurve: "P-384" });
const jwks = { keys: [{ ...nras.publicKey.export({ format: "jwk" }), kid: "test-nras", alg: "ES384" }] };
let rootCertificatePem: string;

beforeAll(async () => {
  const authority = await createDevAuthority();
  rootCertificatePem = authority.rootCertificatePem;
  const key = await issueDevAttestationKey(authority);
  writeFileSync(join(dir, "dev-key.json"), JSON.stringify({ ...key, measurements: MEASURED }));
  writeFileSync(join(dir, "nras-key.json"), JSON.stringify(nras.privateKey.export({ format: "jwk" })));
});

/** A dev node whose GPU evidence comes from the fake verifier run as `node fake-nras.mjs {nonce} key mode`. */
const nodeWithGpu = (mode: string, extra: Record<string, unknown> = {}) =>
  confidentialFromConfig(
    configWith(
      {
        kind: "dev",
        devKeyFile: "dev-key.json",
        gpuTokenCommand: [process.execPath, FAKE_NRAS, "{nonce}", join(dir, "nras-key.json"), mode],
        ...extra,
      },
      dir,
    ),
    NODE,
    silentLogger,
  )!;

/** The node's evidence for `nonce`; a failure is the 503 `attestation_unavailable`, whose cause is the source's. */
const evidenceFor = (compute: ConfidentialCompute, nonce: HexString) =>
  compute.forNonce(nonce).catch((error: unknown) => {
    expect(error).toMatchObject({ code: "attestation_unavailable" });
    throw (error as Error).cause;
  });

const verify = async (mode: string, extra?: Record<string, unknown>) => {
  const nonces = new NonceStore();
  const nonce = nonces.issue();
  const evidence = await evidenceFor(nodeWithGpu(mode, extra), nonce);
  return verifyAttestation(
    evidence,
    { measurements: [MEASURED], dev: { rootCertificatePem }, gpu: { jwks, required: true } },
    { signingAddress: NODE, freshness: { kind: "nonce", nonce }, nonces },
  );
};

describe("confidential.gpuTokenCommand: GPU evidence from the operator's tooling", () => {
  it("serves the command's token beside the quote, bound to the same report data, and a client checks it", async () => {
    const verdict = await verify("ok");
    expect(verdict.gpu?.overallResult).toBe(true);
    expect(verdict.gpuUnchecked).toBe(false);
  });

  it("refuses to serve a token its verifier made for another nonce (a stale or replayed token)", async () => {
    await expect(verify("other-nonce")).rejects.toThrow(/another nonce/);
  });

  it("fails the evidence with one clear line for output that is no token, a failed, hung or flooding command", async () => {
    await expect(verify("garbage")).rejects.toMatchObject({ code: "evidence_source_failed" });
    const failed = verify("fail");
    await expect(failed).rejects.toThrow(/exited with code 3/);
    // The tool's stderr can hold the operator's credentials: it is never copied into the error.
    await expect(
      failed.catch((error: Error) => `${error.message} ${String(error.cause ?? "")}`),
    ).resolves.not.toMatch(/SECRET/);
    const started = Date.now();
    await expect(verify("hang", { gpuTokenTimeoutMs: 500 })).rejects.toThrow(/ran past 500 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(verify("flood")).rejects.toThrow(/more than 65536 bytes/);
  });

  it("refuses a command that cannot run, and a config that is not a command", async () => {
    const missing = nodeWithGpu("ok", { gpuTokenCommand: ["./no-such-tool", "{nonce}"] });
    await expect(evidenceFor(missing, new NonceStore().issue())).rejects.toThrow(/no such executable/);
    expect(() => nodeWithGpu("ok", { gpuTokenCommand: [] })).toThrow(ConfigError);
    expect(() => nodeWithGpu("ok", { gpuTokenCommand: "nv-attest {nonce}" })).toThrow(ConfigError);
  });

  it("kills the command's whole process group on a timeout: a wrapper's own child does not outlive it", async () => {
    const pidFile = join(dir, "grandchild.pid");
    await expect(
      verify("grandchild", { gpuTokenCommand: gpuArgs("grandchild", pidFile), gpuTokenTimeoutMs: 1_000 }),
    ).rejects.toThrow(/ran past 1000 ms/);
    const pid = Number(readFileSync(pidFile, "utf8"));
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
  });

  it("gives the command a minimal environment: the node's own variables stay out unless named", async () => {
    const seen = join(dir, "env.json");
    process.env.ATOMA_NODE_RPC_SECRET = "https://rpc.example/key-123";
    process.env.NRAS_TEST_CREDENTIAL = "granted";
    try {
      await verify("env", { gpuTokenCommand: gpuArgs("env", seen), gpuTokenEnv: ["NRAS_TEST_CREDENTIAL"] });
      const names = JSON.parse(readFileSync(seen, "utf8")) as string[];
      expect(names).toContain("NRAS_TEST_CREDENTIAL");
      expect(names).toContain("ATOMA_GPU_NONCE");
      expect(names).not.toContain("ATOMA_NODE_RPC_SECRET");
    } finally {
      delete process.env.ATOMA_NODE_RPC_SECRET;
      delete process.env.NRAS_TEST_CREDENTIAL;
    }
  });

  it("runs two commands at once and lets four wait: past that a fresh quote is a 429, not a queue without end", async () => {
    const compute = nodeWithGpu("slow", {
      quotesPerSecond: 100,
      quoteBurst: 100,
      quotesPerSecondPerSource: 100,
      quoteBurstPerSource: 100,
    });
    const nonces = new NonceStore();
    const asked = Array.from({ length: 8 }, () => compute.forNonce(nonces.issue()));
    const settled = await Promise.allSettled(asked);
    const refused = settled.filter((r) => r.status === "rejected");
    expect(refused).toHaveLength(2);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "attestation_rate_limited" });
    expect(settled.filter((r) => r.status === "fulfilled")).toHaveLength(6);
  });
});

const gpuArgs = (mode: string, out: string) => [
  process.execPath,
  FAKE_NRAS,
  "{nonce}",
  join(dir, "nras-key.json"),
  mode,
  out,
];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
