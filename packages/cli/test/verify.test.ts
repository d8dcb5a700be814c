import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buyStack, SecurityLevel, setNodeUrl } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { createDevAuthority, issueDevAttestationKey, type TdMeasurements } from "@atoma/confidential";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { ConfidentialCompute, devEvidenceSource } from "@atoma/node";
import { apiNode, startTinyEngine, waitForStack } from "@atoma/node/devnet";
import { StackClient } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AtomaNode } from "../../node/src/service/createNode.js";
import { expectRefused, runCli, runCliToEnd } from "./cliProcess.js";

const reg = (byte: string) => `0x${byte.repeat(48)}` as const;
/** What the confidential dev node's evidence measures (an allow-list entry for `atoma attest`). */
const MEASURED: TdMeasurements = {
  mrTd: reg("e1"),
  rtmr0: reg("f0"),
  rtmr1: reg("f1"),
  rtmr2: reg("f2"),
  rtmr3: reg("f3"),
};

/**
 * `atoma verify` on an answer saved as an OpenAI client received it, from a real node on the dev network: an honest
 * one passes (exit 0), a tampered one fails with its code (exit 1); bad input ends with one line. Also the `--json`
 * of `atoma node status` and `atoma stack status`.
 */
describe("atoma verify", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-verify-"));
  const networkFile = join(dir, "network.json");
  const answerFile = join(dir, "answer.json");
  const tamperedFile = join(dir, "tampered.json");
  const requestFile = join(dir, "request.json");
  const devRootFile = join(dir, "dev-root.pem");
  const allowFile = join(dir, "allow.json");
  const otherAllowFile = join(dir, "other-allow.json");
  const carriedFile = join(dir, "carried.json");
  const forgedFile = join(dir, "forged.json");
  let devnet: Devnet;
  let engine: EmbeddedEngine;
  let model: TinyModelFile;
  let server: DevNode;
  let node: AtomaNode;
  let stackId: bigint;
  let readyLine: string;

  beforeAll(async () => {
    devnet = await startDevnet();
    const { modelId } = await devnet.registerModel({ name: "atoma-tiny" });
    server = await devnet.addNode();
    const taskId = await devnet.addTask({ modelId, securityLevel: SecurityLevel.None, nodes: [server] });
    await devnet.nextEpoch();
    ({ engine, model } = await startTinyEngine());
    // The node also runs confidential compute with the dev attestation kind, for `atoma attest`.
    const authority = await createDevAuthority();
    writeFileSync(devRootFile, authority.rootCertificatePem);
    writeFileSync(allowFile, JSON.stringify([{ label: "dev image", ...MEASURED }]));
    writeFileSync(otherAllowFile, JSON.stringify([{ label: "other", mrTd: reg("00") }]));
    const compute = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: server.signerAccount.address,
    });
    node = apiNode({
      network: devnet,
      node: server,
      engine,
      model,
      dataDir: join(dir, "node"),
      confidential: { compute, epoch: async () => 1n },
    }).node;
    await node.start();
    await setNodeUrl(server.operator, { nodeId: server.nodeId, url: node.url });
    const owner = await devnet.account();
    ({ stackId } = await buyStack(owner.ctx, {
      taskId,
      units: 100_000n,
      maxPricePerMillion: DEV_PRICE_PER_MILLION,
      duration: 86_400n,
    }));
    await waitForStack(node, stackId);
    const client = new StackClient({
      nodeUrl: node.url,
      account: owner.account,
      stackId,
      chainId: devnet.rpc.chainId,
      stackManager: devnet.deployment.addresses.StackManager,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
    });
    const body = { model: model.id, messages: [{ role: "user", content: "Hello there" }], max_tokens: 8 };
    const answer = await client.chat(body);
    const received = { ...answer.response, atoma: answer.atoma };
    writeFileSync(answerFile, JSON.stringify(received, null, 2));
    writeFileSync(requestFile, JSON.stringify({ ...body, stream: false }));
    // As a gateway passes it on: with the body it signed.
    writeFileSync(carriedFile, JSON.stringify({ ...received, atoma_request: { ...body, stream: false } }));
    const forged = { ...body, model: "a-bigger-model", stream: false };
    writeFileSync(forgedFile, JSON.stringify({ ...received, atoma_request: forged }));
    const tampered = structuredClone(received) as unknown as { choices: { message: { content: string } }[] };
    tampered.choices[0]!.message.content += " Also, wire me 100 TOMA.";
    writeFileSync(tamperedFile, JSON.stringify(tampered));
    const network = {
      rpcUrl: devnet.rpc.rpcUrl,
      chainId: devnet.rpc.chainId,
      contracts: devnet.deployment.addresses,
    };
    writeFileSync(networkFile, JSON.stringify(network));
    readyLine = `ready ${JSON.stringify(network)}`;
  }, 240_000);
  afterAll(async () => {
    await node?.stop();
    await engine?.stop();
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes a saved honest answer (exit 0), each check on its line, the request checked when given", async () => {
    const run = await runCliToEnd([
      "verify",
      answerFile,
      "--network",
      networkFile,
      "--stack",
      String(stackId),
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines.slice(0, -1).map((line) => line.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "pass receipt",
      "pass response_hash",
      "not checked",
      "pass signature",
      "pass signer",
      "pass stack",
      "wait inclusion",
      "wait settlement",
    ]);
    expect(lines.at(-1)).toBe(
      "verdict verified (request not checked); settlement unsettled; pending inclusion, settlement; not checked request_hash",
    );
    const withRequest = await runCliToEnd([
      "verify",
      answerFile,
      "--network",
      networkFile,
      "--request",
      requestFile,
    ]);
    expect(withRequest.code).toBe(0);
    expect(withRequest.stdout).toMatch(/^pass request_hash /m);
    expect(withRequest.stdout).toMatch(/^pass task /m);
    expect(withRequest.stdout.trim().split("\n").at(-1)).toMatch(/^verdict verified; /);
  });

  it("fails a tampered answer with its code (exit 1), in text and --json", async () => {
    const run = await runCliToEnd(["verify", tamperedFile, "--network", networkFile]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL response_hash .*\(response_hash_mismatch\)$/m);
    expect(run.stdout.trim().split("\n").at(-1)).toMatch(/^verdict NOT verified: response_hash_mismatch;/);
    const json = await runCliToEnd(["verify", tamperedFile, "--network", networkFile, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, failures: ["response_hash_mismatch"] });
    const wrongStack = await runCliToEnd(["verify", answerFile, "--network", networkFile, "--stack", "999"]);
    expect(wrongStack.code).toBe(1);
    expect(wrongStack.stdout).toContain("(stack_mismatch)");
  });

  it("without --request, checks the atoma_request an answer carries; --security-level asks a level", async () => {
    const carried = await runCliToEnd(["verify", carriedFile, "--network", networkFile]);
    expect(carried.code, carried.stderr).toBe(0);
    expect(carried.stdout).toMatch(/^pass task /m);
    expect(carried.stdout).toMatch(/^not checked request_hash /m);
    // A gateway that names another body (another model) than the one the receipt is for.
    const forged = await runCliToEnd(["verify", forgedFile, "--network", networkFile]);
    expect(forged.code).toBe(1);
    expect(forged.stdout.trim().split("\n").at(-1)).toMatch(
      /^verdict NOT verified: request_hash_mismatch, model_mismatch;/,
    );
    // The stack was bought on a task of security level 0.
    const level = await runCliToEnd([
      "verify",
      answerFile,
      "--network",
      networkFile,
      "--security-level",
      "1",
    ]);
    expect(level.code).toBe(1);
    expect(level.stdout).toMatch(/^FAIL security_level .*\(security_level_low\)$/m);
    const low = await runCliToEnd(["verify", answerFile, "--network", networkFile, "--security-level", "0"]);
    expect(low.code, low.stderr).toBe(0);
    await expectRefused(
      ["verify", answerFile, "--network", networkFile, "--security-level", "7"],
      /--security-level must be 0, 1, 2 or 3 \(cli_usage\)/,
    );
  });

  it("reads the answer from stdin, and the network as a ready line or an RPC URL with the StackManager", async () => {
    const piped = runCli(["verify", "-", "--network", readyLine, "--json"]);
    piped.child.stdin.end(await import("node:fs").then((fs) => fs.readFileSync(answerFile)));
    expect(await piped.exited, piped.stderr()).toBe(0);
    expect(JSON.parse(piped.stdout())).toMatchObject({ ok: true, failures: [], settlement: "unsettled" });
    const rpc = await runCliToEnd([
      ...["verify", answerFile, "--network", devnet.rpc.rpcUrl],
      ...["--stack-manager", devnet.deployment.addresses.StackManager, "--json"],
    ]);
    expect(rpc.code, rpc.stderr).toBe(0);
    expect(JSON.parse(rpc.stdout)).toMatchObject({ ok: true });
  });

  it("refuses bad input with one line naming the code and a non-zero exit", async () => {
    writeFileSync(join(dir, "not.json"), "{ not json");
    await expectRefused(
      ["verify", join(dir, "not.json"), "--network", networkFile],
      /is not JSON \(cli_usage\)/,
    );
    await expectRefused(["verify", join(dir, "missing.json"), "--network", networkFile], /cannot be read/);
    await expectRefused(
      ["verify", answerFile, "--network", devnet.rpc.rpcUrl],
      /--stack-manager.*\(cli_usage\)/,
    );
    await expectRefused(
      ["verify", answerFile, "--network", networkFile, "--stack", "1.5"],
      /stackId must be a positive bigint or a decimal string.*\(cli_usage\)/,
    );
    await expectRefused(
      ["verify", answerFile, "--network", networkFile, "--owner", "me"],
      /owner.*\(cli_usage\)/,
    );
    await expectRefused(["verify", answerFile, "--network", "ready {}"], /rpcUrl.*\(cli_usage\)/);
  });

  it("node status and stack status print JSON for scripts with --json", async () => {
    const nodeJson = await runCliToEnd([
      "node",
      "status",
      String(server.nodeId),
      "--network",
      networkFile,
      "--json",
    ]);
    expect(nodeJson.code, nodeJson.stderr).toBe(0);
    expect(JSON.parse(nodeJson.stdout)).toMatchObject({
      nodeId: String(server.nodeId),
      status: "active",
      signer: server.signerAccount.address,
      url: node.url,
    });
    const nodeText = await runCliToEnd(["node", "status", String(server.nodeId), "--network", networkFile]);
    expect(nodeText.stdout).toMatch(/^signer +0x[0-9a-fA-F]{40}$/m);
    await expectRefused(["node", "status", "999", "--network", networkFile], /there is no node 999/);
    const stackJson = await runCliToEnd([
      "stack",
      "status",
      String(stackId),
      "--network",
      networkFile,
      "--json",
    ]);
    expect(stackJson.code, stackJson.stderr).toBe(0);
    expect(JSON.parse(stackJson.stdout)).toMatchObject({ stackId: String(stackId), nodeUrl: node.url });
  });

  it("atoma attest: checks a node's dev evidence for a fresh nonce, labelled insecure, exit 1 with reasons", async () => {
    const args = ["attest", String(server.nodeId), "--network", networkFile];
    // This node posts no attestation record on-chain, so the evidence checks pass and the chain's fails (the whole
    // run passing, record and allow-list read from the chain, is `atoma dev`'s test in dev.test.ts).
    const passed = await runCliToEnd([...args, "--dev-root", devRootFile, "--measurements", allowFile]);
    expect(passed.code, passed.stderr + passed.stdout).toBe(1);
    const lines = passed.stdout.trim().split("\n");
    expect(lines).toContain("kind         insecure, development (proves nothing about hardware)");
    expect(
      lines
        .filter((l) => /^(ok|FAIL|skip|--) /.test(l))
        .map((l) =>
          l
            .split(/[\s:]+/)
            .slice(0, 2)
            .join(" "),
        ),
    ).toEqual([
      "ok fetch",
      "ok quote",
      "ok measurements",
      "ok binding",
      "skip gpu",
      "ok nonce",
      "FAIL chain",
    ]);
    expect(passed.stdout).toMatch(/^FAIL chain record: .*\(attestation_record_missing\)$/m);
    expect(lines.at(-1)).toBe("attestation NOT verified");
    const json = await runCliToEnd([
      ...args,
      "--dev-root",
      devRootFile,
      "--measurements",
      allowFile,
      "--json",
    ]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      insecure: true,
      label: "insecure, development",
      signer: server.signerAccount.address,
      url: node.url,
    });
    // Dev evidence is refused unless the verifier is told to accept it.
    const refused = await runCliToEnd(args);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^FAIL quote: .*\(attestation_dev_refused\)$/m);
    expect(refused.stdout.trim().split("\n").at(-1)).toBe("attestation NOT verified");
    const unknown = await runCliToEnd([
      ...args,
      "--dev-root",
      devRootFile,
      "--measurements",
      otherAllowFile,
      "--json",
    ]);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout).checks[1]).toMatchObject({
      name: "measurements",
      status: "failed",
      code: "attestation_unknown_measurement",
    });
    // No allow-list: the measurements are shown, the check skipped, not passed, so the run fails with the reason
    // (a user who forgot --measurements must not read "verified"), unless --show-only asks only to read them.
    const open = await runCliToEnd([...args, "--dev-root", devRootFile]);
    expect(open.code).toBe(1);
    expect(open.stdout).toMatch(/^skip measurements: no allow-list given/m);
    expect(open.stdout).toMatch(/^FAIL chain record: /m);
    expect(open.stdout).toContain(`mrTd   ${MEASURED.mrTd}`);
    expect(open.stdout.trim().split("\n").at(-1)).toBe("attestation NOT verified");
    const shown = await runCliToEnd([...args, "--dev-root", devRootFile, "--show-only"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`mrTd   ${MEASURED.mrTd}`);
    // Read, not checked against any allow-list or the chain: never "attestation verified" (review3 L-4).
    expect(shown.stdout).not.toMatch(/^attestation verified$/m);
    expect(shown.stdout.trim().split("\n").at(-1)).toBe(
      "measurements shown, NOT verified (--show-only: no allow-list, no chain check)",
    );
    // A node that serves no attestation (the URL of something else) fails the fetch.
    const elsewhere = await runCliToEnd([...args, "--url", devnet.rpc.rpcUrl, "--dev-root", devRootFile]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toMatch(/^FAIL fetch: /m);
    await expectRefused(["attest", "999", "--network", networkFile], /there is no node 999/);
  });
});
