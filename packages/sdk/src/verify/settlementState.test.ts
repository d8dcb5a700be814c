import { NodeStatus, SettlementPhase } from "@atoma/chain/portable";
import { describe, expect, it } from "vitest";
import { settlementCheck, settlementStateOf } from "./settlementState.js";
import { verdictLine, verdictOf } from "./verdict.js";

describe("settlement state", () => {
  it("names each phase, and a slashed serving node whatever the phase", () => {
    const active = NodeStatus.Active;
    expect(settlementStateOf(SettlementPhase.None, active)).toBe("unsettled");
    for (const phase of [
      SettlementPhase.Commit,
      SettlementPhase.Reveal,
      SettlementPhase.Drawing,
      SettlementPhase.Opening,
    ])
      expect(settlementStateOf(phase, active)).toBe("attesting");
    expect(settlementStateOf(SettlementPhase.Disputed, active)).toBe("disputed");
    expect(settlementStateOf(SettlementPhase.Accepted, active)).toBe("attested");
    expect(settlementStateOf(SettlementPhase.Finalized, active)).toBe("finalized");
    expect(settlementStateOf(SettlementPhase.Failed, active)).toBe("failed");
    expect(settlementStateOf(SettlementPhase.TimedOut, active)).toBe("failed");
    expect(settlementStateOf(SettlementPhase.Accepted, NodeStatus.Slashed)).toBe("node_slashed");
    // Review of issue 13, LOW-4: a slash after the settlement finalized leaves it finalized (the answer was paid).
    expect(settlementStateOf(SettlementPhase.Finalized, NodeStatus.Slashed)).toBe("finalized");
    // Review of issue 13 (second), MEDIUM-A: receipt fraud proven on this very stack after it finalized keeps the
    // phase Finalized; the answer must not read as verified.
    expect(settlementStateOf(SettlementPhase.Finalized, NodeStatus.Slashed, true)).toBe("node_slashed");
    expect(settlementStateOf(SettlementPhase.Finalized, active, true)).toBe("node_slashed");
    expect(settlementStateOf(SettlementPhase.Accepted, active, true)).toBe("node_slashed");
    const paid = verdictOf([settlementCheck("finalized")], "finalized", undefined, true);
    expect(paid.ok).toBe(true);
    expect(verdictLine(paid)).toBe("verified; settlement finalized; the node is slashed now");
  });

  it("fails the check with its own code when the node was not paid or was slashed", () => {
    expect(settlementCheck("failed")).toMatchObject({ status: "fail", code: "settlement_failed" });
    expect(settlementCheck("node_slashed")).toMatchObject({ status: "fail", code: "node_slashed" });
    expect(settlementCheck("disputed").status).toBe("pending");
    expect(settlementCheck("finalized").status).toBe("pass");
  });

  it("sums checks into one line", () => {
    const verdict = verdictOf(
      [
        { name: "signature", status: "pass", reason: "" },
        { name: "response_hash", status: "fail", code: "response_hash_mismatch", reason: "" },
        { name: "inclusion", status: "pending", reason: "" },
      ],
      "unsettled",
      undefined,
    );
    expect(verdict).toMatchObject({ ok: false, complete: false, failures: ["response_hash_mismatch"] });
    expect(verdictLine(verdict)).toBe(
      "NOT verified: response_hash_mismatch; settlement unsettled; pending inclusion",
    );
  });
});
