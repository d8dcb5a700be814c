import { NodeStatus, settlementPhaseNames } from "@atoma/chain/portable";
import type { Check, SettlementState } from "./verdict.js";

/**
 * The state a settlement phase and the serving node's status stand for. A finalized settlement stays `finalized`
 * though its node was slashed since (review of issue 13, LOW-4: a later slash for something else turned an honest,
 * paid answer into "not verified"); the slash is told apart (`Verdict.nodeSlashed`). Before that, a slashed node's
 * settlement is `node_slashed`, and so is a stack whose receipt fraud was proven (`fraudProven`), whatever its
 * phase: a fraud proven after the stack finalized leaves the phase `Finalized`.
 */
export function settlementStateOf(phase: number, nodeStatus: number, fraudProven = false): SettlementState {
  if (fraudProven) return "node_slashed";
  if (nodeStatus === NodeStatus.Slashed && settlementPhaseNames[phase] !== "Finalized") return "node_slashed";
  switch (settlementPhaseNames[phase]) {
    case "None":
      return "unsettled";
    case "Disputed":
      return "disputed";
    case "Accepted":
      return "attested";
    case "Finalized":
      return "finalized";
    case "Failed":
    case "TimedOut":
      return "failed";
    default:
      return "attesting";
  }
}

/** The settlement check: passes once attested or finalized, fails when not paid or the node was slashed. */
export function settlementCheck(state: SettlementState): Check {
  const name = "settlement";
  switch (state) {
    case "attested":
      return { name, status: "pass", reason: "the settlement was accepted; its challenge window is open" };
    case "finalized":
      return { name, status: "pass", reason: "the settlement is finalized: the node was paid for the stack" };
    case "failed":
      return {
        name,
        status: "fail",
        code: "settlement_failed",
        reason: "the settlement failed: the node was not paid for this stack",
      };
    case "node_slashed":
      return {
        name,
        status: "fail",
        code: "node_slashed",
        reason: "the node serving this stack was slashed",
      };
    case "disputed":
      return { name, status: "pending", reason: "the settlement is disputed: a committee is recomputing it" };
    case "attesting":
      return { name, status: "pending", reason: "the settlement is being attested" };
    case "unsettled":
      return { name, status: "pending", reason: "the stack is not settled yet" };
  }
}
