import { type AtomaAddresses, consensusRequestsAbi, DisputeKind, disputeManagerAbi } from "@atoma/chain";
import type { Logger } from "@atoma/core";
import type { ConsensusSeatState } from "../db/schema.js";
import { type ChainEventSource, eventSource } from "../listener/eventSource.js";
import { getDraw, insertDraw, updateDraw } from "./draws.js";
import { getSeat, insertSeat, seatVote, updateSeat } from "./duties.js";
import { unitBudget } from "./unitBudget.js";

/** Seat states that an outcome event may still close. */
const WAITING: ConsensusSeatState[] = ["pending", "sealed", "revealed", "committed", "missed", "disputed"];
const OPEN: ConsensusSeatState[] = [...WAITING, "delivering"];

/**
 * The events that create and close this node's consensus duties. Handlers only write rows (in the listener's
 * transaction); the worker acts on them.
 */
export function consensusEventSources(
  addresses: Pick<AtomaAddresses, "ConsensusRequests" | "DisputeManager">,
  nodeId: bigint,
  logger: Logger,
): ChainEventSource[] {
  const requests = eventSource({
    name: "consensus-requests",
    address: addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    handlers: {
      ConsensusRequested: async ({ args }, { db }) => {
        await insertDraw(db, {
          requestId: args.requestId,
          taskId: args.taskId,
          n: args.n,
          prompt: args.prompt,
          maxUnits: unitBudget(args.maxUnits),
          drawBlock: args.drawBlock,
          candidates: args.candidates,
        });
      },
      DrawRearmed: async ({ args }, { db }) => {
        await updateDraw(db, args.requestId, { draw_block: args.drawBlock });
      },
      SeatsDrawn: async ({ args }, { db }) => {
        const draw = await getDraw(db, args.requestId);
        await updateDraw(db, args.requestId, { state: "done" }, ["pending", "skipped", "failed"]);
        const index = args.nodeIds.indexOf(nodeId);
        if (index < 0) return;
        await insertSeat(db, {
          requestId: args.requestId,
          nodeId,
          seatIndex: index + 1,
          n: args.nodeIds.length,
          taskId: draw?.task_id,
          prompt: draw?.prompt,
          maxUnits: draw?.max_units,
          sealDeadline: args.sealDeadline,
          revealDeadline: args.revealDeadline,
        });
        logger.info({ requestId: args.requestId, seat: index + 1 }, "drawn for a consensus request");
      },
      ConsensusReached: async ({ args }, { db }) => {
        const seat = await getSeat(db, args.requestId);
        if (!seat || !WAITING.includes(seat.state)) return;
        const agreed = args.root.toLowerCase();
        // A seat holding the agreed output delivers it (its own commit may be the one that just completed the
        // round, before the worker recorded it); any other seat is finished.
        await updateSeat(
          db,
          args.requestId,
          seat.root === agreed
            ? { agreed_root: agreed, delivery_deadline: args.deliveryDeadline, state: "delivering" }
            : { agreed_root: agreed, state: "done", outcome: seat.root === null ? "missed" : "outvoted" },
          WAITING,
        );
      },
      ConsensusDisputed: async ({ args }, { db }) => {
        await updateSeat(db, args.requestId, { state: "disputed", dispute_id: args.disputeId }, WAITING);
      },
      ResultDelivered: async ({ args }, { db }) => {
        await updateSeat(db, args.requestId, { state: "done", outcome: "delivered" }, OPEN);
      },
      ConsensusFailed: async ({ args }, { db }) => {
        await updateDraw(db, args.requestId, { state: "failed" }, ["pending", "skipped"]);
        await updateSeat(db, args.requestId, { state: "done", outcome: "failed" }, OPEN);
      },
    },
  });

  const disputes = eventSource({
    name: "consensus-disputes",
    address: addresses.DisputeManager,
    abi: disputeManagerAbi,
    handlers: {
      DisputeOpened: async ({ args }, { db }) => {
        if (args.kind !== DisputeKind.Consensus) return;
        await updateSeat(db, args.originId, {
          dispute_id: args.disputeId,
          dispute_deadline: args.revealDeadline,
        });
        if (!args.committee.includes(nodeId)) {
          // A private window's candidate the committee does not name: its row ends here, never left for the
          // resolution to label (a row no committee ever named is one of a dispute that ended with none).
          await db
            .updateTable("consensus_votes")
            .set({ state: "done", outcome: "unseated" })
            .where("dispute_id", "=", args.disputeId)
            .where("reveal_deadline", "=", 0n)
            .where("state", "in", ["pending", "committed", "revealed"])
            .execute();
          return;
        }
        await seatVote(db, {
          disputeId: args.disputeId,
          requestId: args.originId,
          nodeId,
          commitDeadline: args.commitDeadline,
          revealDeadline: args.revealDeadline,
        });
        logger.info({ disputeId: args.disputeId, requestId: args.originId }, "on a consensus committee");
      },
      DisputeResolved: async ({ args }, { db }) => {
        const open = ["pending", "committed", "revealed"] as const;
        await db
          .updateTable("consensus_votes")
          .set({ state: "done", outcome: args.decided ? "decided" : "undecided" })
          .where("dispute_id", "=", args.disputeId)
          .where("reveal_deadline", "!=", 0n)
          .where("state", "in", open)
          .execute();
        // Still a private window's row (no DisputeOpened named a committee, with it or without): none ever sat.
        await db
          .updateTable("consensus_votes")
          .set({ state: "done", outcome: "no_committee" })
          .where("dispute_id", "=", args.disputeId)
          .where("reveal_deadline", "=", 0n)
          .where("state", "in", open)
          .execute();
      },
    },
  });

  return [requests, disputes];
}
