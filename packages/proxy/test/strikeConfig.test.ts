import type { Network } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { ProxyConfigError } from "../src/errors.js";

const NETWORK = { rpcUrl: "http://127.0.0.1:8545", chainId: 31_337, contracts: {} } as unknown as Network;

describe("the gateway's settings for counting against nodes", () => {
  it("counts 3 cuts and 2 over-billed cuts in 10 minutes, a 60 s grace and 300 s deadlines unless told otherwise", () => {
    expect(parseProxyConfig({}, NETWORK).routing).toMatchObject({
      cutLimit: 3,
      overbilledCutLimit: 2,
      cutWindowMs: 600_000,
      inFlightGraceMs: 60_000,
      deadlineSeconds: 300,
    });
    const routing = {
      cutLimit: 5,
      overbilledCutLimit: 1,
      cutWindowMs: 60_000,
      inFlightGraceMs: 0,
      deadlineSeconds: 60,
      requestTimeoutMs: 60_000,
    };
    expect(parseProxyConfig({ routing }, NETWORK).routing).toMatchObject(routing);
  });

  it.each([
    ["cutLimit", 0],
    ["cutLimit", 2.5],
    ["overbilledCutLimit", -1],
    ["cutWindowMs", 10],
    ["inFlightGraceMs", -5],
    ["deadlineSeconds", 1],
    ["deadlineSeconds", "300"],
  ])("refuses routing.%s = %j in one line naming it", (name, value) => {
    let thrown: unknown;
    try {
      parseProxyConfig({ routing: { [name]: value } } as never, NETWORK);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProxyConfigError);
    const message = (thrown as ProxyConfigError).shortMessage;
    expect(message).toMatch(new RegExp(`^setting routing\\.${name} `));
    expect(message).not.toContain("\n");
  });

  it("refuses a deadline and grace shorter than the request timeout, in one line", () => {
    // A node still at a request the gateway waits for would be struck as holding it past its deadline.
    const routing = { deadlineSeconds: 60, inFlightGraceMs: 30_000, requestTimeoutMs: 120_000 };
    expect(() => parseProxyConfig({ routing }, NETWORK)).toThrow(
      /^setting routing\.inFlightGraceMs plus deadlineSeconds/,
    );
    expect(
      parseProxyConfig({ routing: { ...routing, inFlightGraceMs: 60_000 } }, NETWORK).routing,
    ).toMatchObject({
      inFlightGraceMs: 60_000,
    });
  });
});
