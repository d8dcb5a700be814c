import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type CliRun, runCli, waitForReady } from "./cliProcess.js";
import { type DevReady, explorerInBrowser } from "./explorerInBrowser.js";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

type Ready = DevReady;

/** The README's fenced block of `language` that contains `marker`, exactly as written there. */
function readmeExample(language: string, marker: string): string {
  const readme = readFileSync(`${repoRoot}README.md`, "utf8");
  const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)];
  const found = blocks.find(([, lang, body]) => lang === language && body?.includes(marker));
  if (!found?.[2]) throw new Error(`README.md has no ${language} block with ${marker}`);
  return found[2];
}

describe("atoma dev's gateway and explorer: the README quickstart, run as written", () => {
  let dev: CliRun;
  let ready: Ready;
  let env: NodeJS.ProcessEnv;
  // A state directory of its own, so the explorer's test can reach a node's key (to make it cheat).
  // A space in the state directory: every command shown (stderr, the explorer's) must keep the path one word.
  const stateDir = mkdtempSync(join(tmpdir(), "atoma dev-gateway-"));

  beforeAll(async () => {
    dev = runCli(["dev", "--log-level", "warn", "--state-dir", stateDir]);
    ready = await waitForReady<Ready>(dev, 240_000);
    env = { ...process.env, OPENAI_BASE_URL: `${ready.proxyUrl}/v1`, OPENAI_API_KEY: ready.apiKey };
  }, 300_000);

  afterAll(async () => {
    if (dev && dev.child.exitCode === null) {
      dev.child.kill("SIGINT");
      await dev.exited;
    }
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it("prints the gateway's URL and a demo key, and says on stderr how to use them", async () => {
    expect(ready.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.apiKey).toMatch(/^sk-atoma-/);
    // The hint follows the ready line.
    await vi.waitFor(() => expect(dev.stderr()).toContain(`Authorization: Bearer ${ready.apiKey}`));
    expect(dev.stderr()).toContain(`baseURL: "${ready.proxyUrl}/v1"`);
    // How to check an answer yourself: saved by atoma chat or the explorer's playground, then atoma verify.
    // Quoted (issue 13 review, verify flow, LOW-5): pasted into a shell, the path stays one word.
    const networkFile = `'${join(stateDir, "network.json")}'`;
    expect(networkFile).toContain(" ");
    expect(dev.stderr()).toContain(`--network ${networkFile} --save answer.json "Hello"`);
    expect(dev.stderr()).toContain(`npx atoma verify answer.json --network ${networkFile}\n`);
    expect(dev.stderr()).toContain(`--network ${networkFile} with the stack owner and\n`);
  });

  it("answers the README's curl call with the node's receipt", async () => {
    const { stdout } = await run("bash", ["-c", readmeExample("sh", "$OPENAI_BASE_URL/chat/completions")], {
      env,
    });
    const answer = JSON.parse(stdout) as {
      model: string;
      choices: { message: { content: string } }[];
      atoma: { node_id: string; stack_id: string };
    };
    expect(answer.model).toBe(ready.model);
    expect(typeof answer.choices[0]?.message.content).toBe("string");
    expect(answer.atoma.node_id).toMatch(/^\d+$/);
  }, 120_000);

  it("answers the README's three lines with the openai client", async () => {
    const code = readmeExample("js", 'from "openai"');
    expect(code.trim().split("\n")).toHaveLength(3);
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], {
      env,
      cwd: repoRoot,
    });
    expect(stdout).toContain("chat.completion");
    expect(stdout).toMatch(/atoma: \{[^}]*node_id: '\d+'/);
  }, 120_000);

  it("serves the Responses API to the openai client, streamed and not, with the node's receipt", async () => {
    const client = new OpenAI({ baseURL: `${ready.proxyUrl}/v1`, apiKey: ready.apiKey, maxRetries: 0 });
    const response = await client.responses.create({
      model: ready.model,
      instructions: "Be brief.",
      input: "Hello",
      max_output_tokens: 12,
    });
    expect(typeof response.output_text).toBe("string");
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    expect((response as unknown as { atoma: { node_id: string } }).atoma.node_id).toMatch(/^\d+$/);
    const stream = await client.responses.create({
      model: ready.model,
      input: [{ role: "user", content: "Tell me more" }],
      max_output_tokens: 12,
      stream: true,
    });
    let deltas = 0;
    let completed: { atoma?: { node_id: string }; status: string } | undefined;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") deltas++;
      if (event.type === "response.completed") completed = event.response as never;
    }
    expect(deltas).toBeGreaterThan(0);
    expect(completed?.atoma?.node_id).toMatch(/^\d+$/);
  }, 120_000);

  // After the gateway's tests: it slashes a node.
  explorerInBrowser(() => ({ ready, stateDir }));

  // Last: it ends the shared network.
  it("stops the gateway and the explorer with everything else on Ctrl-C", async () => {
    dev.child.kill("SIGINT");
    expect(await dev.exited).toBe(0);
    await expect(fetch(`${ready.proxyUrl}/health`)).rejects.toThrow();
    await expect(fetch(ready.explorerUrl)).rejects.toThrow();
  }, 60_000);
});
