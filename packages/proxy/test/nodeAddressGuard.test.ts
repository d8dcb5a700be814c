import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { NodeAddressGuard } from "../src/network/nodeAddressGuard.js";

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
});
