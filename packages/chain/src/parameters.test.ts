import { describe, expect, it } from "vitest";
import { devParameters, resolveParameters } from "./parameters.js";

describe("resolveParameters", () => {
  it("overrides section by section and keeps every other default", () => {
    const p = resolveParameters({ epochLength: 60n, stack: { surchargeBps: 0 } });
    expect(p.epochLength).toBe(60n);
    expect(p.stack).toEqual({ ...devParameters.stack, surchargeBps: 0 });
    expect(p.node).toEqual(devParameters.node);
  });

  it("leaves the defaults untouched", () => {
    resolveParameters({ node: { minCollateral: 1n } });
    expect(devParameters.node.minCollateral).toBe(10n ** 21n);
  });

  it("keeps the documented replication floor of the whitepaper (0.8 %)", () => {
    expect(devParameters.task.minReplicationPpm).toBe(8_000);
  });
});
