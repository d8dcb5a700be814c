import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromDescription } from "../../../apps/explorer/src/configFromDescription.js";
import { networkSourceOf } from "../../../apps/explorer/src/networkSource.js";

const contracts = Object.fromEntries(
  ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"].map((name, i) => [
    name,
    `0x${String(i + 1).repeat(40)}`,
  ]),
);
/** A chain the attacker runs: the shown `atoma verify` command would check answers against it. */
const evil = `ready ${JSON.stringify({ rpcUrl: "http://127.0.0.1:6666", chainId: 31337, contracts })}`;

/** The `atoma` command a description names for the shown command to run. */
const CLI = "/tmp/atoma-clone/packages/cli/bin/atoma.js";

/** A real server handing out a description whose networkFile is `networkFile`. */
async function serve(networkFile: string, cliPath = CLI): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
    res.end(
      JSON.stringify({
        rpcUrl: "http://127.0.0.1:8545",
        chainId: 31337,
        contracts,
        networkFile,
        cliPath,
      }),
    );
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** What the page does on load: reads the description its location names (over real HTTP), then configures from it. */
async function loadConfig(href: string) {
  const page = new URL(href);
  const { url } = networkSourceOf({ href, origin: page.origin, search: page.search });
  const body = await (await fetch(url)).text();
  return configFromDescription(body, url, page.origin);
}

// Issue 13 review (verify flow, LOW-4): a foreign description named the network file the shown command checks against.
describe("the explorer's network file (what the shown atoma verify command names)", () => {
  let own: { url: string; server: Server };
  let planted: { url: string; server: Server };

  beforeAll(async () => {
    own = await serve("/tmp/atoma-dev-a/network.json");
    planted = await serve(evil);
  });
  afterAll(async () => {
    for (const site of [own, planted]) await new Promise((done) => site?.server.close(done));
  });

  it("is taken from the page's own server", async () => {
    const config = await loadConfig(`${own.url}/`);
    expect(config.networkFile).toBe("/tmp/atoma-dev-a/network.json");
    expect(config.cliPath).toBe(CLI);
  });

  it("is ignored from a description elsewhere (another port on this machine, read without asking)", async () => {
    const config = await loadConfig(`${own.url}/?network=${encodeURIComponent(`${planted.url}/n.json`)}`);
    expect(config.network.rpcUrl).toBe("http://127.0.0.1:8545");
    expect(config.networkFile).toBeUndefined();
    // Nor the command it would have the reader run.
    expect(config.cliPath).toBeUndefined();
  });

  // Review of 00bacc7, LOW-2: a same-origin description's cliPath starting with a dash became node's own option.
  it("names only a clone's atoma command, never an option or another program, even from the page's own server", async () => {
    for (const cliPath of [
      "--eval=require('child_process').execSync('id')",
      "relative/packages/cli/bin/atoma.js",
      "/usr/bin/sh",
    ]) {
      const site = await serve("/tmp/atoma-dev-a/network.json", cliPath);
      try {
        expect((await loadConfig(`${site.url}/`)).cliPath, cliPath).toBeUndefined();
      } finally {
        await new Promise((done) => site.server.close(done));
      }
    }
  });

  it("is ignored when it is an inline description, even from the page's own server", async () => {
    const config = await loadConfig(`${planted.url}/`);
    expect(config.networkFile).toBeUndefined();
  });
});
