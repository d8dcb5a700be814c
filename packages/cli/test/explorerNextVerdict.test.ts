import type { SettlementState, Verdict, VerifyFailureCode } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { nextVerdict } from "../../../apps/explorer/src/playground/nextVerdict.js";

/** A verdict as the client's re-check answers it, reduced to what the playground orders verdicts by. */
const verdict = (settlement: SettlementState, failures: VerifyFailureCode[] = []): Verdict => ({
  ok: failures.length === 0,
  complete: failures.length === 0 && settlement === "finalized",
  checks: [],
  failures,
  settlement,
  receipt: undefined,
});

/**
 * The playground's re-checks can answer out of order (one queued behind another, or read from an RPC backend that
 * lags): a turn's verdict moves on, never back from a final one.
 */
describe("the verdict a playground turn shows after a re-check", () => {
  it("keeps a final verdict when a lagging re-check answers an older, unfinished settlement", () => {
    const finalized = verdict("finalized");
    expect(nextVerdict(finalized, verdict("attested"))).toBe(finalized);
    expect(nextVerdict(finalized, verdict("unsettled"))).toBe(finalized);
    const slashed = verdict("node_slashed", ["node_slashed"]);
    expect(nextVerdict(slashed, verdict("attesting"))).toBe(slashed);
    const failed = verdict("failed", ["settlement_failed"]);
    expect(nextVerdict(failed, verdict("disputed"))).toBe(failed);
  });

  it("moves an unfinished verdict on, to a final one or a later one", () => {
    const finalized = verdict("finalized");
    expect(nextVerdict(verdict("attested"), finalized)).toBe(finalized);
    const slashed = verdict("node_slashed", ["node_slashed"]);
    expect(nextVerdict(verdict("attested"), slashed)).toBe(slashed);
    const attested = verdict("attested");
    expect(nextVerdict(verdict("unsettled"), attested)).toBe(attested);
    expect(nextVerdict(undefined, attested)).toBe(attested);
  });

  it("keeps a verified answer verified when the node only did not hand over its proof this time", () => {
    const attested = verdict("attested");
    expect(nextVerdict(attested, verdict("attested", ["proof_unavailable"]))).toBe(attested);
  });
});
