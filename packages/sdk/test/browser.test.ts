import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../testing/chromium.js";
import { bundleForBrowser, repoRoot } from "./browserBundle.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

const sdkPackage = JSON.parse(readFileSync(join(repoRoot, "packages/sdk/package.json"), "utf8")) as {
  type: string;
  exports: { ".": Record<string, string> };
};

describe("@atoma/sdk's browser entry", () => {
  it("ships ESM with types under the browser condition", () => {
    expect(sdkPackage.type).toBe("module");
    const entry = sdkPackage.exports["."];
    expect(Object.keys(entry)[0]).toBe("types");
    expect(entry.browser).toBeDefined();
    for (const file of [entry.types, entry.browser, entry.import])
      expect(existsSync(join(repoRoot, "packages/sdk", file ?? "missing")), file).toBe(true);
  });

  it("imports no Node-only module anywhere in its import graph", async () => {
    const { nodeOnly, inputs } = await bundleForBrowser("@atoma/sdk");
    expect(nodeOnly).toEqual([]);
    // The graph reached the SDK, the protocol encodings and the chain reads, but never the anvil launcher.
    expect(inputs.some((path) => path.includes("packages/sdk/dist/index.js"))).toBe(true);
    expect(inputs.some((path) => path.includes("packages/chain/dist/portable.js"))).toBe(true);
    expect(inputs.filter((path) => /anvil|@foundry-rs/.test(path))).toEqual([]);
  });

  it("is caught importing a Node-only module (the scan sees what it should)", async () => {
    // The whole @atoma/chain entry starts anvil processes: the scan must name what it imports.
    const { nodeOnly } = await bundleForBrowser("@atoma/chain");
    expect(nodeOnly.map((i) => i.path)).toEqual(expect.arrayContaining(["node:child_process"]));
  });
});

describe("examples/browser in Chromium against a dev network", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-sdk-browser-"));
  let dev: DevNetwork;
  let browser: Browser;
  let server: Server;
  let pageUrl: string;

  beforeAll(async () => {
    const { nodeOnly } = await bundleForBrowser("examples/browser/main.js", join(dir, "bundle.js"));
    expect(nodeOnly).toEqual([]);
    server = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://page").pathname;
      if (path === "/bundle.js") {
        response.setHeader("content-type", "text/javascript");
        return response.end(readFileSync(join(dir, "bundle.js")));
      }
      response.setHeader("content-type", "text/html");
      response.end(readFileSync(join(repoRoot, "examples/browser/index.html")));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    [dev, browser] = await Promise.all([startDevNetwork(1), launchChromium()]);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function verdictOn(query: Record<string, string>): Promise<{ verdict: string; answer: string }> {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${pageUrl}?${new URLSearchParams({ network: dev.readyText, ...query })}`);
      const verdict = tab.locator("#verdict");
      await verdict.filter({ hasText: /^(stack|failed)/ }).waitFor({ timeout: 90_000 });
      return {
        verdict: (await verdict.textContent()) ?? "",
        answer: (await tab.locator("#answer").textContent()) ?? "",
      };
    } finally {
      await tab.close();
    }
  }

  it("streams an answer through the gateway and verifies its receipt on-chain, in the page", async () => {
    const { verdict, answer } = await verdictOn({ gateway: dev.ready.proxyUrl, key: dev.ready.apiKey });
    expect(verdict).toMatch(/^stack \d+: verified; settlement unsettled/);
    expect(answer.length).toBeGreaterThan(0);
  }, 120_000);

  it("buys a stack and asks the node non-custodially with a dev key, in the page", async () => {
    const { verdict, answer } = await verdictOn({ privateKey: dev.ready.user.privateKey });
    expect(verdict).toMatch(/^stack \d+: verified; settlement unsettled/);
    expect(answer).not.toContain("[object Object]");
  }, 120_000);
});
