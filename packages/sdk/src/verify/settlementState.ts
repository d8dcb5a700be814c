import { NodeStatus, settlementPhaseNames } from "@atoma/chain/portable";
import type { Check, SettlementState } from "./verdict.js";

/** The state a settlement phase and the serving node's status stand for. */
export function settlementStateOf(phase: number, nodeStatus: number): SettlementState {
  if (nodeStatus === NodeStatus.Slashed) return "node_slashed";
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
