import type { AtomaContracts } from "@atoma/chain";
import { transitionStack } from "../accounting/stacks.js";
import type { ChainEventSource } from "../listener/eventSource.js";
import { eventSource } from "../listener/eventSource.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import { markSettlementFailed, updateSettlement } from "./settlementRows.js";

/**
 * What the chain says about this node's stacks, recorded in the listener's transaction (outbox pattern): the
 * owner's close request closes the stack to new requests; each settlement phase fills its row's columns; the
 * worker acts on them. Rows exist only for stacks this node froze, so updates for other stacks touch nothing.
 * Metrics counted here may count twice if a range is rolled back and handled again (rare: a failed commit).
 */
export function settlementEventSources(
  contracts: Pick<AtomaContracts, "stackManager" | "settlementManager">,
  nodeId: bigint,
  metrics: NodeMetrics | undefined,
): ChainEventSource[] {
  const { stackManager, settlementManager } = contracts;
  return [
    eventSource({
      name: "settlement:stacks",
      address: stackManager.address,
      abi: stackManager.abi,
      handlers: {
        StackClosed: async ({ args }, { db }) => {
          if (args.nodeId === nodeId) await transitionStack(db, args.stackId, "active", "settling");
        },
      },
    }),
    eventSource({
      name: "settlement",
      address: settlementManager.address,
      abi: settlementManager.abi,
      handlers: {
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
          if (args.nodeId !== nodeId) return;
          const paid = args.nodeAmount > 0n;
          // Nothing to claim for an empty settlement: it ends here.
          const found = await updateSettlement(db, args.stackId, {
            state: paid ? "settled" : "claimed",
            outcome: "finalized",
            finalized_block: blockNumber,
            node_amount: args.nodeAmount,
            refunded: args.refunded,
          });
          await transitionStack(db, args.stackId, "settling", "settled");
          if (found) metrics?.settlements.inc({ outcome: "finalized" });
        },
        SettlementFailed: async ({ args }, { db }) => {
          if (args.nodeId !== nodeId) return;
          const found = await markSettlementFailed(
            db,
            args.stackId,
            "failed",
            `verification failed (reason ${args.reason})`,
          );
          await transitionStack(db, args.stackId, "settling", "settled");
          if (found) metrics?.settlements.inc({ outcome: "failed" });
        },
        SettlementTimedOut: async ({ args }, { db }) => {
          if (args.nodeId !== nodeId) return;
          await markSettlementFailed(db, args.stackId, "timed_out", "not settled by the deadline");
          if (!(await transitionStack(db, args.stackId, "active", "settled")))
            await transitionStack(db, args.stackId, "settling", "settled");
          metrics?.settlements.inc({ outcome: "timed_out" });
        },
      },
    }),
  ];
}
