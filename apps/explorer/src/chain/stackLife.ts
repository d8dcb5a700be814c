import { formatEther } from "viem";
import { big, bigs, type ChainEvent } from "./chainEvent.js";

export interface TimelineEntry {
  event: ChainEvent;
  /** One line a person reads. */
  text: string;
}

export interface StackLife {
  stackId: bigint;
  stages: { name: string; done: boolean }[];
  entries: TimelineEntry[];
  disputeIds: bigint[];
}

/** Why a settlement failed: `SettlementManager`'s `FAIL_*` reasons, as a person reads them. */
const FAIL_REASONS: Record<number, string> = {
  1: "no reveal",
  2: "data withheld",
  3: "dispute lost",
  4: "fraud proven",
  5: "unverifiable",
};

export const failReason = (reason: bigint | number) => FAIL_REASONS[Number(reason)] ?? `reason ${reason}`;

const toma = (value: bigint) => `${formatEther(value)} TOMA`;
const list = (values: bigint[]) => (values.length === 0 ? "none" : values.map((v) => `#${v}`).join(", "));

/** What an event says about a stack, or undefined when it says nothing a person would look for. */
function describe(e: ChainEvent): string | undefined {
  const n = (key: string) => big(e, key);
  switch (e.name) {
    case "StackRequested":
      return `requested: ${n("units")} units, ${toma(n("locked"))} locked`;
    case "StackBought":
      return `bought by ${String(e.args.owner)} from node #${n("nodeId")}: ${n("units")} units at ${toma(n("pricePerMillion"))}/1M, escrow ${toma(n("escrow"))}`;
    case "StackCancelled":
      return `cancelled, ${toma(n("refunded"))} refunded`;
    case "StackClosed":
      return "closed by its owner";
    case "SettlementSubmitted":
      return `settled by node #${n("nodeId")}: ${n("requestCount")} requests, ${n("units")} units, root ${String(e.args.root).slice(0, 18)}…`;
    case "AttesterDrawPending":
      return "attester draw pending";
    case "AttestersSampled":
      return `sampled: attesters ${list(bigs(e, "attesters"))} check requests ${bigs(e, "requestIndices").join(", ")}`;
    case "AttestationSkipped":
      return "not sampled: no attestation this time";
    case "AttestationCommitted":
      return `attester #${n("nodeId")} committed`;
    case "RevealOpened":
      return "reveal opened";
    case "SettlementRevealed":
      return "the node revealed its sampled results";
    case "AttestationOpened":
      return `attester #${n("nodeId")} opened its commitment`;
    case "AttestationsCompared":
      return `compared: agreeing ${list(bigs(e, "agreeing"))}, dissenting ${list(bigs(e, "dissenting"))}`;
    case "SettlementAccepted":
      return "accepted: challenge window open";
    case "SettlementDisputed":
      return `disputed: dispute #${n("disputeId")}`;
    case "AttesterTimedOut":
      return `attester #${n("nodeId")} timed out`;
    case "AttesterReplaced":
      return `attester #${n("nodeId")} replaced`;
    case "SettlementFinalized":
      return `finalized: node ${toma(n("nodeAmount"))}, model owner ${toma(n("modelAmount"))}, each attester ${toma(n("attesterAmountEach"))}, refunded ${toma(n("refunded"))}`;
    case "SettlementFailed":
      return `failed: ${failReason(n("reason"))}, ${toma(n("refunded"))} refunded to the owner`;
    case "SettlementTimedOut":
      return `timed out, ${toma(n("refunded"))} refunded`;
    case "FraudProven":
      return `fraud proven against node #${n("nodeId")} by ${String(e.args.prover)}, ${toma(n("refunded"))} refunded`;
    case "DisputeCreated":
      return `dispute #${n("disputeId")} created between ${list(bigs(e, "parties"))}`;
    case "CommitteeDrawn":
      return `dispute #${n("disputeId")}: committee ${list(bigs(e, "committee"))} drawn`;
    case "DisputeOpened":
      return `dispute #${n("disputeId")} opened for votes, committee ${list(bigs(e, "committee"))}`;
    case "EvidencePosted":
      return `dispute #${n("disputeId")}: evidence posted`;
    case "VoteCommitted":
      return `dispute #${n("disputeId")}: member #${n("nodeId")} committed a vote`;
    case "VoteRevealed":
      return `dispute #${n("disputeId")}: member #${n("nodeId")} revealed its vote`;
    case "MemberTimedOut":
      return `dispute #${n("disputeId")}: member #${n("nodeId")} timed out`;
    case "DisputeResolved":
      return `dispute #${n("disputeId")} resolved: ${e.args.decided ? "decided" : "undecided"}, losers ${list(bigs(e, "losers"))}`;
    case "NodeSlashed":
      return `node #${n("nodeId")} slashed ${toma(n("amount"))}${e.args.fraud ? " for fraud" : " for a timeout"}`;
    case "SlashDistributed":
      return `slash of ${toma(n("amount"))} went: ${toma(n("toUser"))} to the user, ${toma(n("toHonest"))} to honest nodes, ${toma(n("toTreasury"))} to the treasury, ${toma(n("burned"))} burned`;
    case "ReputationChanged":
      return `node #${n("nodeId")}'s reputation is now ${String(e.args.reputation)}`;
    default:
      return undefined;
  }
}

/** A stack's events, its disputes' events, and what happened in the same transactions (slashes, payouts). */
export function stackLife(events: readonly ChainEvent[], stackId: bigint): StackLife {
  const ofStack = events.filter((e) => "stackId" in e.args && big(e, "stackId") === stackId);
  const disputeIds = ofStack.filter((e) => e.name === "SettlementDisputed").map((e) => big(e, "disputeId"));
  const ofDisputes = events.filter(
    (e) =>
      e.contract === "DisputeManager" && "disputeId" in e.args && disputeIds.includes(big(e, "disputeId")),
  );
  const txs = new Set([...ofStack, ...ofDisputes].map((e) => e.tx));
  const sameTx = events.filter(
    (e) => txs.has(e.tx) && ["NodeSlashed", "SlashDistributed", "ReputationChanged"].includes(e.name),
  );
  const picked = new Set([...ofStack, ...ofDisputes, ...sameTx]);
  const entries = events
    .filter((e) => picked.has(e))
    .flatMap((event) => {
      const text = describe(event);
      return text === undefined ? [] : [{ event, text }];
    });
  const has = (...names: string[]) => entries.some((entry) => names.includes(entry.event.name));
  const submitted = entries.find((entry) => entry.event.name === "SettlementSubmitted")?.event;
  const failed = entries.find((entry) => entry.event.name === "SettlementFailed")?.event;
  // How it ended: paid, failed (its reason), timed out unsettled-for, or a fraud proven that failed nothing left.
  const outcome = failed
    ? { name: `failed: ${failReason(big(failed, "reason"))}`, done: true }
    : has("SettlementTimedOut")
      ? { name: "timed out", done: true }
      : has("FraudProven")
        ? { name: "fraud proven", done: true }
        : { name: "finalized", done: has("SettlementFinalized") };
  return {
    stackId,
    disputeIds,
    entries,
    stages: [
      { name: "bought", done: has("StackBought") },
      // Requests are off-chain until the settlement counts them.
      {
        name: submitted ? `${big(submitted, "requestCount")} requests` : "requests",
        done: submitted !== undefined,
      },
      { name: "settled", done: has("SettlementSubmitted") },
      {
        name: has("AttestationSkipped") ? "not sampled" : "sampled",
        done: has("AttestersSampled", "AttestationSkipped"),
      },
      { name: "attester commitments", done: has("AttestationCommitted") },
      { name: "reveal", done: has("SettlementRevealed") },
      ...(disputeIds.length > 0 ? [{ name: "dispute", done: has("DisputeResolved") }] : []),
      outcome,
    ],
  };
}
