import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, runCliToEnd, waitForReady } from "./cliProcess.js";
import { type ConfidentialReady, confidentialChatOnDev } from "./confidentialDevChat.js";

async function rpc(url: string, method: string): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
  });
  return ((await response.json()) as { result: unknown }).result;
}

describe("atoma dev", () => {
  it("prints a ready line whose RPC URL answers, and leaves nothing behind after SIGINT", async () => {
    const run = runCli(["dev", "--log-level", "warn"]);
    const ready = await waitForReady<ConfidentialReady & { attestation: { label: string } }>(run, 240_000);
    expect(ready.chainId).toBe(31337);
    expect(await rpc(ready.rpcUrl, "eth_chainId")).toBe("0x7a69");
    expect(Object.keys(ready.contracts)).toContain("AtomaToken");

    // Its nodes run the insecure dev attestation kind: `atoma attest` checks one with the root the ready line names.
    expect(ready.attestation.label).toBe("insecure, development");
    const dir = mkdtempSync(join(tmpdir(), "atoma-dev-attest-"));
    try {
      const allow = join(dir, "allow.json");
      writeFileSync(allow, JSON.stringify([ready.attestation.measurements]));
      const attest = await runCliToEnd([
        ...["attest", ready.nodes[0]!.id, "--network", `ready ${JSON.stringify(ready)}`],
        ...["--dev-root", ready.attestation.rootCertificate, "--measurements", allow],
      ]);
      expect(attest.code, attest.stdout + attest.stderr).toBe(0);
      expect(attest.stdout).toContain("insecure, development");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // A confidential chat works out of the box: the ready line names the level-3 task, its nodes are attested
    // on-chain, and the client seals to the key the chain's record names.
    const text = await confidentialChatOnDev(ready, "a secret for the enclave only");
    expect(text.length).toBeGreaterThan(0);

    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    await expect(rpc(ready.rpcUrl, "eth_chainId")).rejects.toThrow();
  }, 300_000);

  it("rejects a bad option with a one-line message and a non-zero exit", async () => {
    const run = runCli(["dev", "--log-level"]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(/log-level/);
  });
});
