import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openExplorer } from "../../../testing/explorerPage.js";

const contractsAt = (address: string) =>
  Object.fromEntries(
    ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"].map((name) => [
      name,
      address,
    ]),
  );
/** The page's own description: chain 31337. */
const own = { rpcUrl: "http://127.0.0.1:9", chainId: 31337, contracts: contractsAt(`0x${"0".repeat(39)}1`) };
/** What the link's site serves: another chain, and a gateway of its own for the playground's questions. */
const planted = {
  rpcUrl: "http://127.0.0.1:9",
  chainId: 4242,
  contracts: contractsAt(`0x${"0".repeat(39)}2`),
  proxyUrl: "http://127.0.0.1:9",
  apiKey: "sk-atoma-planted",
};

/** This machine's first address that is not loopback: a site other than the page's, reachable with no route out. */
const otherHost = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry !== undefined && entry.family === "IPv4" && !entry.internal)?.address;

interface Site {
  url: string;
  reads: number;
  server: Server;
}

/** A real server that hands out `planted` to any origin (CORS open), counting the reads. */
async function startSite(host: string): Promise<Site> {
  const site: Site = { url: "", reads: 0, server: createServer() };
  site.server.on("request", (_req, res) => {
    site.reads++;
    res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
    res.end(JSON.stringify(planted));
  });
  await new Promise<void>((done) => site.server.listen(0, host, done));
  site.url = `http://${host}:${(site.server.address() as AddressInfo).port}/network.json`;
  return site;
}

/** A link that points the explorer at another site's network description: read only once the user confirms. */
describe.skipIf(otherHost === undefined)("the explorer's ?network= link", () => {
  let foreign: Site;
  let loopback: Site;

  beforeAll(async () => {
    foreign = await startSite(otherHost!);
    loopback = await startSite("127.0.0.1");
  });
  afterAll(async () => {
    for (const site of [foreign, loopback]) await new Promise((done) => site?.server.close(done));
  });

  it("asks before reading another site's description, and reads nothing until then", async () => {
    const explorer = await openExplorer(own, `?network=${encodeURIComponent(foreign.url)}#/network`);
    try {
      const { tab } = explorer;
      await expect.poll(() => tab.locator('[data-testid="network-source"]').textContent()).toBe(foreign.url);
      expect(foreign.reads).toBe(0);
      expect(await tab.locator('[data-testid="block"]').count()).toBe(0);
      // Declined: the page's own description, the link's site still unread.
      await tab.click('[data-testid="network-own"]');
      await expect.poll(() => tab.locator('[data-testid="block"]').textContent()).toMatch(/^chain 31337 /);
      expect(new URL(tab.url()).searchParams.get("network")).toBeNull();
      expect(foreign.reads).toBe(0);
      // Confirmed: read, and shown.
      await tab.goto(`${explorer.url}/?network=${encodeURIComponent(foreign.url)}#/network`);
      await tab.click('[data-testid="network-load"]');
      await expect.poll(() => tab.locator('[data-testid="block"]').textContent()).toMatch(/^chain 4242 /);
      expect(foreign.reads).toBe(1);
    } finally {
      await explorer.close();
    }
  }, 60_000);

  it("reads a description on this machine (loopback) without asking", async () => {
    const explorer = await openExplorer(own, `?network=${encodeURIComponent(loopback.url)}#/network`);
    try {
      await expect
        .poll(() => explorer.tab.locator('[data-testid="block"]').textContent())
        .toMatch(/^chain 4242 /);
      expect(await explorer.tab.locator('[data-testid="network-confirm"]').count()).toBe(0);
    } finally {
      await explorer.close();
    }
  }, 60_000);

  it("refuses a description that is not http(s)", async () => {
    const explorer = await openExplorer(own, "?network=javascript:alert(1)#/network");
    try {
      await expect
        .poll(() => explorer.tab.locator('[data-testid="config-error"]').textContent())
        .toMatch(/must be an http\(s\) URL/);
    } finally {
      await explorer.close();
    }
  }, 60_000);
});
