import {
  type AtomaAddresses,
  challengeManagerAbi,
  DisputeKind,
  disputeManagerAbi,
  settlementDrawAbi,
  settlementManagerAbi,
  stackManagerAbi,
} from "@atoma/chain";
import type { ChainEventSource } from "../listener/eventSource.js";
import { eventSource } from "../listener/eventSource.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import { recordChallenge, setChallengeState } from "./challengeRows.js";
import {
  isServedStack,
  markSettlementFailed,
  moveServedStack,
  recordSubmission,
  updateSettlement,
} from "./settlementRows.js";

/**
 * What the chain says about this node's stacks, recorded in the listener's transaction (outbox pattern): the
 * owner's close request closes the stack to new requests; each settlement phase fills its row's columns; the
 * worker acts on them. Only this node's stacks are in its database and only stacks it froze have a settlement
 * row, so events about other nodes' stacks change nothing.
 * Metrics counted here may count twice if a range is rolled back and handled again (rare: a failed commit).
 */
export function settlementEventSources(
  addresses: Pick<
    AtomaAddresses,
    "StackManager" | "SettlementManager" | "SettlementDraw" | "DisputeManager" | "ChallengeManager"
  >,
  metrics: NodeMetrics | undefined,
): ChainEventSource[] {
  return [
    eventSource({
      name: "settlement:stacks",
      address: addresses.StackManager,
      abi: stackManagerAbi,
      handlers: {
        StackClosed: async ({ args }, { db }) => {
          const stack = { stackId: args.stackId, servingNodeId: args.nodeId };
          await moveServedStack(db, stack, ["active"], "settling");
        },
      },
    }),
    eventSource({
      name: "settlement:draw",
      address: addresses.SettlementDraw,
      abi: settlementDrawAbi,
      handlers: {
        // A candidate in a private selection window cannot fetch the transcript: the window seed's sample goes
        // on chain by the data deadline, as after a declaration.
        SelectionDataRequested: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, {
            data_deadline: args.dataDeadline,
            sampled_indices: JSON.stringify(args.requestIndices.map(String)),
          });
        },
      },
    }),
    eventSource({
      name: "settlement",
      address: addresses.SettlementManager,
      abi: settlementManagerAbi,
      handlers: {
        SettlementSubmitted: async ({ args, transactionHash }, { db }) => {
          // The worker records its own transaction too; this covers a crash between sending and recording.
          const stack = { stackId: args.stackId, servingNodeId: args.nodeId };
          if (await isServedStack(db, stack)) await recordSubmission(db, args.stackId, transactionHash, true);
        },
        AttestersSampled: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, {
            state: "attesting",
            sampled_indices: JSON.stringify(args.requestIndices.map(String)),
            commit_deadline: args.commitDeadline,
          });
        },
        TranscriptUnavailable: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, { data_deadline: args.dataDeadline });
        },
        RevealOpened: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, { reveal_deadline: args.revealDeadline });
        },
        SettlementAccepted: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, { window_ends: args.windowEnds, outcome: "accepted" });
        },
        SettlementDisputed: async ({ args }, { db }) => {
          await updateSettlement(db, args.stackId, { outcome: "disputed" });
        },
        SettlementFinalized: async ({ args, blockNumber }, { db }) => {
          const stack = { stackId: args.stackId, servingNodeId: args.nodeId };
          if (!(await moveServedStack(db, stack, ["settling"], "settled"))) return;
          // An empty settlement earns nothing to claim: it ends here.
          const found = await updateSettlement(db, args.stackId, {
            state: args.nodeAmount > 0n ? "settled" : "claimed",
            outcome: "finalized",
            finalized_block: blockNumber,
            node_amount: args.nodeAmount,
            refunded: args.refunded,
          });
          if (found) metrics?.settlements.inc({ outcome: "finalized" });
        },
        SettlementFailed: async ({ args }, { db }) => {
          const stack = { stackId: args.stackId, servingNodeId: args.nodeId };
          if (!(await moveServedStack(db, stack, ["settling"], "settled"))) return;
          const reason = `verification failed (reason ${args.reason})`;
          if (await markSettlementFailed(db, args.stackId, "failed", reason))
            metrics?.settlements.inc({ outcome: "failed" });
        },
        SettlementTimedOut: async ({ args }, { db }) => {
          const stack = { stackId: args.stackId, servingNodeId: args.nodeId };
          if (!(await moveServedStack(db, stack, ["active", "settling"], "settled"))) return;
          await markSettlementFailed(db, args.stackId, "timed_out", "not settled by the deadline");
          metrics?.settlements.inc({ outcome: "timed_out" });
        },
      },
    }),
    eventSource({
      name: "settlement:disputes",
      address: addresses.DisputeManager,
      abi: disputeManagerAbi,
      handlers: {
        // Only this node's settlements have a row: a dispute on another node's stack changes nothing.
        DisputeCreated: async ({ args }, { db }) => {
          if (args.kind !== DisputeKind.Attestation) return;
          await updateSettlement(db, args.originId, {
            dispute_id: args.disputeId,
            evidence_deadline: args.evidenceDeadline,
          });
        },
      },
    }),
    eventSource({
      name: "settlement:owner-challenges",
      address: addresses.ChallengeManager,
      abi: challengeManagerAbi,
      handlers: {
        ChallengeOpened: async ({ args }, { db }) => {
          await recordChallenge(db, {
            disputeId: args.challengeId,
            stackId: args.stackId,
            leafIndex: args.leafIndex,
            leaf: args.leaf,
            answerDeadline: args.answerDeadline,
          });
        },
        ChallengeResolved: async ({ args }, { db }) => {
          await setChallengeState(db, args.challengeId, args.upheld ? "upheld" : "dismissed");
        },
      },
    }),
  ];
}
