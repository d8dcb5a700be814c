import { lookup } from "node:dns/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { NodeAddressGuard } from "../src/network/nodeAddressGuard.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { NodeProber } from "../src/routing/nodeProber.js";

describe("NodeAddressGuard: a node's address judged when the gateway calls it", () => {
  const guard = new NodeAddressGuard(false);

  it("refuses loopback and private addresses written out", async () => {
    for (const url of [
      "http://127.0.0.1:8080",
      "http://[::1]:8080",
      "http://10.1.2.3",
      "http://localhost:80",
    ])
      expect(await guard.refusal(url)).toMatch(/private address/);
  });

  it("refuses a DNS name that resolves to loopback, though its text names no private host", async () => {
    // The machine's own name (in /etc/hosts: loopback, or its address on a private network) passes a check of the
    // name's text; its addresses do not.
    expect(await guard.refusal(`http://${hostname()}:8080`)).toMatch(
      /resolves to a loopback or private address/,
    );
  });

  it("refuses a name that does not resolve, and passes a public address", async () => {
    expect(await guard.refusal("http://no-such-host.invalid")).toMatch(/does not resolve/);
    expect(await guard.refusal("http://203.0.113.7:9")).toBeUndefined();
  });

  it("lets every address through on a dev network, but still only http(s)", async () => {
    const dev = new NodeAddressGuard(true);
    expect(await dev.refusal("http://127.0.0.1:8080")).toBeUndefined();
    expect(await dev.refusal("file:///etc/passwd")).toMatch(/not http/);
  });

  // Review 5 MEDIUM-4: IPv6 forms that reach an IPv4 host passed the address check.
  it("refuses private IPv4 addresses written as NAT64, 6to4 and IPv4-translated IPv6", async () => {
    for (const url of [
      "http://[64:ff9b::7f00:1]:8080",
      "http://[64:ff9b::10.0.0.1]:8080",
      "http://[2002:7f00:1::]:8080",
      "http://[2002:c0a8:101::1]",
      "http://[::ffff:0:7f00:1]:8080",
      "http://[64:ff9b:1::1]",
    ])
      expect(await guard.refusal(url), url).toMatch(/private address/);
    expect(await guard.refusal("http://[64:ff9b::cb00:7107]:9")).toBeUndefined();
    expect(await guard.refusal("http://[2002:cb00:7107::1]:9")).toBeUndefined();
  });

  // Review 5 MEDIUM-4: the guard resolved a name once (cached 30 s) and the HTTP client resolved it again, so a
  // name answering a public address to the guard and loopback to the client (DNS rebinding) reached this host.
  it("connects only to addresses it checked when connecting: a rebinding name reaches no private host", async () => {
    let reached = 0;
    const server = createServer((_, res) => {
      reached++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    // The machine's own name resolves to loopback; the first answer is a public address (as a rebinding DNS
    // server gives the check), every later one the real one.
    let asked = 0;
    const rebinding = new NodeAddressGuard(false, {
      resolve: async (host) =>
        asked++ === 0 ? [{ address: "203.0.113.7", family: 4 }] : lookup(host, { all: true }),
    });
    try {
      const url = `http://${hostname()}:${port}/health`;
      expect(await rebinding.refusal(url)).toBeUndefined();
      await expect(
        fetch(url, { dispatcher: rebinding.dispatcher } as unknown as RequestInit),
      ).rejects.toThrow();
      expect(reached).toBe(0);
    } finally {
      await rebinding.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // Review 5 MEDIUM-4: the prober fetched /health and /metrics at any URL a node registered.
  it("probes no node whose URL is private", async () => {
    let reached = 0;
    const server = createServer((_, res) => {
      reached++;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const book = new NodeHealthBook();
      const prober = new NodeProber(book, { guard: new NodeAddressGuard(false) });
      await prober.probe([
        { nodeId: 9n, url: `http://127.0.0.1:${port}`, signer: `0x${"00".repeat(20)}`, pricePerMillion: 1n },
      ]);
      expect(reached).toBe(0);
      expect(book.observation(9n).uptime).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
