import type { Network } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";

const NETWORK = { rpcUrl: "http://127.0.0.1:8545", chainId: 31_337, contracts: {} } as unknown as Network;

describe("the gateway's stack settings", () => {
  it("buys ahead, closes idle stacks after 30 minutes and challenges over-claims unless told otherwise", () => {
    expect(parseProxyConfig({}, NETWORK).stacks).toMatchObject({
      buyAhead: true,
      buyAheadSeconds: 300n,
      idleCloseSeconds: 1_800,
      challengeOverclaims: true,
      maxLogBlocks: 2_000,
      checkEveryMs: 5_000,
    });
    expect(
      parseProxyConfig({ stacks: { idleCloseSeconds: 0, buyAhead: false } }, NETWORK).stacks,
    ).toMatchObject({
      idleCloseSeconds: 0,
      buyAhead: false,
    });
  });

  it("refuses buying ahead on stacks too short for it, which would buy again at every check", () => {
    expect(() => parseProxyConfig({ stacks: { durationSeconds: 900 } }, NETWORK)).toThrow(
      /setting stacks\.buyAheadSeconds must leave a stack's duration longer than it plus 600 s/,
    );
    expect(parseProxyConfig({ stacks: { durationSeconds: 901 } }, NETWORK).stacks.durationSeconds).toBe(901n);
    expect(() => parseProxyConfig({ stacks: { idleCloseSeconds: -1 } }, NETWORK)).toThrow(
      /stacks\.idleCloseSeconds/,
    );
    expect(() => parseProxyConfig({ stacks: { maxLogBlocks: 0 } }, NETWORK)).toThrow(/stacks\.maxLogBlocks/);
  });

  // Review of the signed leaf denials, L2: a 50 ms retry let a node that stalls its proofs have the watcher ask it
  // twenty times a second for each denial.
  it("asks a stalling node for a denied leaf's proof no more often than every half second", () => {
    expect(() => parseProxyConfig({ stacks: { denialRetryMs: 50 } }, NETWORK)).toThrow(
      /stacks\.denialRetryMs/,
    );
    expect(() => parseProxyConfig({ stacks: { denialRetryMs: 499 } }, NETWORK)).toThrow(
      /stacks\.denialRetryMs/,
    );
    expect(parseProxyConfig({ stacks: { denialRetryMs: 500 } }, NETWORK).stacks.denialRetryMs).toBe(500);
  });
});
