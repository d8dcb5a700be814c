import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./browserBundle.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

const run = promisify(execFile);

/** Every `js` block of packages/sdk/README.md, exactly as written there, in order. */
function readmeBlocks(): string[] {
  const readme = readFileSync(join(repoRoot, "packages/sdk/README.md"), "utf8");
  return [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
}

describe("packages/sdk/README.md's examples and examples/node, run against atoma dev", () => {
  // Inside the repository, so that `@atoma/sdk` and `viem` resolve as in a project that depends on them.
  const dir = mkdtempSync(join(repoRoot, "packages/sdk/.readme-run-"));
  const networkFile = join(dir, "network.json");
  let dev: DevNetwork;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dev = await startDevNetwork(1);
    writeFileSync(networkFile, dev.readyText);
    env = {
      ...process.env,
      ATOMA_NETWORK: networkFile,
      ATOMA_GATEWAY_URL: dev.ready.proxyUrl,
      ATOMA_API_KEY: dev.ready.apiKey,
      ATOMA_PRIVATE_KEY: dev.ready.user.privateKey,
    };
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("has its six examples, each a whole program", () => {
    const blocks = readmeBlocks();
    expect(blocks).toHaveLength(6);
    for (const block of blocks) expect(block).toMatch(/^import /);
  });

  it("runs every example as written, each printing its answer and no unverified one", async () => {
    for (const [index, block] of readmeBlocks().entries()) {
      const file = join(dir, `example-${index + 1}.mjs`);
      writeFileSync(file, block);
      const { stdout, stderr } = await run(process.execPath, [file], { env, timeout: 120_000 });
      expect(stderr, `example ${index + 1}`).toBe("");
      expect(stdout.trim().length, `example ${index + 1}`).toBeGreaterThan(0);
      expect(stdout).not.toContain("[object Object]");
      expect(stdout).not.toContain("NOT verified");
      expect(stdout).not.toContain("undefined");
    }
  }, 300_000);

  it("runs examples/node/chat.mjs through the gateway and non-custodially", async () => {
    const script = join(repoRoot, "examples/node/chat.mjs");
    const viaGateway = await run(process.execPath, [script, "Hello"], { env, timeout: 120_000 });
    expect(viaGateway.stdout).toMatch(/\nstack \d+, node \d+: verified; settlement unsettled/);
    const { ATOMA_API_KEY: _key, ...direct } = env;
    const own = await run(process.execPath, [script, "Hello"], { env: direct, timeout: 120_000 });
    expect(own.stdout).toMatch(/\nstack \d+, node \d+: verified; settlement unsettled/);
    expect(own.stdout).not.toContain("[object Object]");
  }, 300_000);
});
