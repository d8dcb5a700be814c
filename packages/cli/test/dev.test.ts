import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAtomaPublicClient,
  createAtomaWalletClient,
  getSubscription,
  setAllowedMeasurement,
} from "@atoma/chain";
import { measurementHash } from "@atoma/core";
import { mnemonicToAccount } from "viem/accounts";
import { describe, expect, it, onTestFinished } from "vitest";
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
    // A failed step never leaves the network running (it once held a third of the machine's two cores for hours).
    onTestFinished(() => {
      if (run.child.exitCode === null) run.child.kill("SIGINT");
    });
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
      // Issue 14 review M4: a verifier that wants the GPUs checked says so (NVIDIA's key set): a node that sends no
      // GPU evidence (as dev nodes) is then refused, never passed with the GPU check skipped.
      const jwks = join(dir, "nras-jwks.json");
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
      writeFileSync(
        jwks,
        JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), alg: "ES384", kid: "k" }] }),
      );
      const gpu = await runCliToEnd([
        ...["attest", ready.nodes[0]!.id, "--network", `ready ${JSON.stringify(ready)}`],
        ...["--dev-root", ready.attestation.rootCertificate, "--measurements", allow, "--gpu-jwks", jwks],
      ]);
      expect(gpu.code, gpu.stdout + gpu.stderr).toBe(1);
      expect(gpu.stdout).toMatch(/FAIL gpu: .*\(gpu_evidence_missing\)/);
      expect(attest.stdout).toMatch(/skip gpu/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // A confidential chat works out of the box: the ready line names the level-3 task, its nodes are attested
    // on-chain, and the client seals to the key the chain's record names.
    const text = await confidentialChatOnDev(ready, "a secret for the enclave only");
    expect(text.length).toBeGreaterThan(0);

    // `atoma chat --confidential`: the SDK's confidential client, the attestation's checks on stderr.
    const files = mkdtempSync(join(tmpdir(), "atoma-dev-confidential-"));
    const networkFile = join(files, "network.json");
    writeFileSync(networkFile, JSON.stringify(ready));
    const network = ["--network", networkFile];
    const user = { ATOMA_PRIVATE_KEY: ready.user.privateKey };
    const sealed = await runCliToEnd(
      ["chat", "--confidential", "Say hi", ...network, "--max-tokens", "8"],
      user,
    );
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout.trim().length).toBeGreaterThan(0);
    expect(sealed.stderr).toMatch(/^attestation attested; node \d+; insecure, development$/m);
    for (const check of ["evidence", "quote", "binding", "nonce", "record", "record_key", "measurement"])
      expect(sealed.stderr).toMatch(new RegExp(`^  ok   ${check}: `, "m"));
    expect(sealed.stderr).toMatch(/^verdict verified/m);

    // `atoma attest` reads the allow-list from the chain: no --measurements needed, and a withdrawn one fails.
    const node = ready.nodes[0]!.id;
    const devRoot = ["--dev-root", ready.attestation.rootCertificate];
    const fromChain = await runCliToEnd(["attest", node, ...network, ...devRoot]);
    expect(fromChain.code, fromChain.stdout + fromChain.stderr).toBe(0);
    expect(fromChain.stdout).toContain(
      `ok   chain allowed: on task ${ready.tasks.confidential}'s allow-list`,
    );
    const noRoot = await runCliToEnd(["attest", node, ...network]);
    expect(noRoot.code).toBe(1);
    expect(noRoot.stdout).toContain("attestation_dev_refused");
    const admin = mnemonicToAccount("test test test test test test test test test test test junk");
    const options = { rpcUrl: ready.rpcUrl, chainId: ready.chainId };
    await setAllowedMeasurement(
      {
        publicClient: createAtomaPublicClient(options),
        walletClient: createAtomaWalletClient(options, admin),
        addresses: ready.contracts as never,
      },
      {
        taskId: BigInt(ready.tasks.confidential),
        measurement: measurementHash("dev", ready.attestation.measurements),
        allowed: false,
      },
    );
    // Named with --task: its standing there, whether or not its peers dropped its subscription yet (below).
    const task = ["--task", String(ready.tasks.confidential)];
    const withdrawn = await runCliToEnd(["attest", node, ...network, ...devRoot, ...task]);
    expect(withdrawn.code).toBe(1);
    expect(withdrawn.stdout).toContain("attestation_measurement_not_allowed");
    expect(withdrawn.stdout).toContain("attestation NOT verified");
    // The nodes' keepers drop the subscriptions the registry no longer accepts: each drops its peers while its own
    // stands, so the first keeper to run drops all the others (every dev node shares the withdrawn measurement).
    const ctx = { publicClient: createAtomaPublicClient(options), addresses: ready.contracts as never };
    const taskId = BigInt(ready.tasks.confidential);
    const stillActive = async () =>
      (
        await Promise.all(ready.nodes.map((n) => getSubscription(ctx, { taskId, nodeId: BigInt(n.id) })))
      ).filter((s) => s.active).length;
    const deadline = Date.now() + 60_000;
    while ((await stillActive()) > 1) {
      if (Date.now() > deadline)
        throw new Error(`no keeper dropped its unattested peers; atoma dev said:\n${run.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    rmSync(files, { recursive: true, force: true });

    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    await expect(rpc(ready.rpcUrl, "eth_chainId")).rejects.toThrow();
  }, 600_000);

  it("rejects a bad option with a one-line message and a non-zero exit", async () => {
    const run = runCli(["dev", "--log-level"]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(/log-level/);
  });
});
