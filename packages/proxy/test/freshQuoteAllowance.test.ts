import { describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { FreshQuoteAllowance } from "../src/gateway/freshQuoteAllowance.js";

const CHAIN = {
  rpcUrl: "http://127.0.0.1:8545",
  chainId: 31337,
  contracts: {},
} as never;

describe("fresh quotes a key may have the gateway ask nodes for", () => {
  // Issue 14 review: every user of a gateway shares its address, so the node's per-source share of fresh quotes is
  // theirs together. A key opening session after session (two nonces each) would spend it all on its own.
  it("a key looping over sessions gets its allowance a minute, then waits; another key is still granted", () => {
    let now = 1_000_000;
    const allowance = new FreshQuoteAllowance(6, () => now);
    const granted = Array.from({ length: 50 }, () => allowance.take("griefer")).filter((w) => w === 0);
    expect(granted).toHaveLength(6);
    const wait = allowance.take("griefer");
    expect(wait).toBe(10);
    // The rest of the gateway's share is left for the others.
    expect(allowance.take("honest")).toBe(0);
    // It refills at its rate, never past a minute's worth.
    now += 10_000;
    expect(allowance.take("griefer")).toBe(0);
    expect(allowance.take("griefer")).toBeGreaterThan(0);
    now += 3_600_000;
    expect(Array.from({ length: 10 }, () => allowance.take("griefer")).filter((w) => w === 0)).toHaveLength(
      6,
    );
  });

  it("forgets the least recently asking key first, with a full bucket at most", () => {
    const allowance = new FreshQuoteAllowance(1, () => 0, 2);
    expect(allowance.take("a")).toBe(0);
    expect(allowance.take("b")).toBe(0);
    expect(allowance.take("c")).toBe(0);
    // "a" was forgotten: a full minute's worth again, which is all a key that waited would have had.
    expect(allowance.take("a")).toBe(0);
    expect(allowance.take("c")).toBe(60);
  });

  it("is configured by confidential.freshQuotesPerKeyPerMinute (default 6)", () => {
    const base = { server: { port: 0 }, database: { dataDir: "/tmp/x" } };
    expect(parseProxyConfig(base, CHAIN).confidential.freshQuotesPerKeyPerMinute).toBe(6);
    expect(
      parseProxyConfig({ ...base, confidential: { freshQuotesPerKeyPerMinute: 2 } }, CHAIN).confidential
        .freshQuotesPerKeyPerMinute,
    ).toBe(2);
    expect(() =>
      parseProxyConfig({ ...base, confidential: { freshQuotesPerKeyPerMinute: 0 } }, CHAIN),
    ).toThrow();
  });
});
