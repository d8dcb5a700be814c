import { silentLogger } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { createGatewayMetrics } from "../src/metrics/gatewayMetrics.js";
import { isPrivateHost, nodeUrlRefusal } from "../src/network/nodeUrlPolicy.js";

describe("node URLs read from the chain", () => {
  it.each([
    "file:///etc/passwd",
    "ftp://node.example/",
    "javascript:alert(1)",
    "gopher://node.example:70/",
    "http://user:pass@node.example/",
    "not a url",
  ])("never serves %s", (url) => {
    expect(nodeUrlRefusal(url, true)).toBeDefined();
    expect(nodeUrlRefusal(url, false)).toBeDefined();
  });

  it.each([
    "http://127.0.0.1:8080",
    "http://localhost:8080",
    "http://api.localhost/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://10.1.2.3/",
    "http://172.20.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
  ])("serves %s only where private addresses are allowed", (url) => {
    expect(nodeUrlRefusal(url, false)).toMatch(/private/);
    expect(nodeUrlRefusal(url, true)).toBeUndefined();
  });

  it("serves public http(s) nodes", () => {
    for (const url of ["https://node.example.com", "http://8.8.8.8:9000/", "https://[2001:db8::1]/"])
      expect(nodeUrlRefusal(url, false)).toBeUndefined();
    expect(isPrivateHost("172.32.0.1")).toBe(false);
  });

  it("is off by default in the gateway's settings, except on a local dev chain", () => {
    const network = (chainId: number) => ({
      rpcUrl: "http://127.0.0.1:8545",
      chainId,
      contracts: {} as never,
    });
    expect(parseProxyConfig({}, network(1)).catalog.allowPrivateNodeUrls).toBe(false);
    expect(parseProxyConfig({}, network(31_337)).catalog.allowPrivateNodeUrls).toBe(true);
    expect(
      parseProxyConfig({ catalog: { allowPrivateNodeUrls: false } }, network(31_337)).catalog
        .allowPrivateNodeUrls,
    ).toBe(false);
    expect(
      parseProxyConfig({ catalog: { allowPrivateNodeUrls: true } }, network(1)).catalog.allowPrivateNodeUrls,
    ).toBe(true);
  });
});

describe("GET /metrics behind a token", () => {
  const parts = {
    logger: silentLogger,
    now: Date.now,
    metrics: createGatewayMetrics({ processMetrics: false }),
  } as unknown as GatewayParts;
  const token = "metrics-token-0123456789";

  it("answers only a request with the token when one is set", async () => {
    const app = createGatewayApp(parts, { metricsToken: token });
    expect((await app.request("/metrics")).status).toBe(401);
    const wrong = await app.request("/metrics", {
      headers: { authorization: "Bearer metrics-token-wrong-000" },
    });
    expect(wrong.status).toBe(401);
    const right = await app.request("/metrics", { headers: { authorization: `Bearer ${token}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain("# HELP");
  });

  it("stays open without a token (as before), and the setting refuses a short token", () => {
    const network = { rpcUrl: "http://127.0.0.1:8545", chainId: 31_337, contracts: {} as never };
    expect(() => parseProxyConfig({ metrics: { token: "short" } }, network)).toThrow(/metrics.token/);
  });

  it("serves metrics without a token when none is set", async () => {
    const app = createGatewayApp(parts);
    expect((await app.request("/metrics")).status).toBe(200);
  });
});
