import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import type {
  ConsensusSeatState,
  ConsensusSeatsTable,
  ConsensusVoteState,
  ConsensusVotesTable,
} from "../db/schema.js";
import { uint256Digits } from "../db/uint256Order.js";
import { unitBudget } from "./unitBudget.js";

export type SeatRow = Omit<ConsensusSeatsTable, "state" | "attempts" | "created_at" | "updated_at"> & {
  state: ConsensusSeatState;
  attempts: number;
};
export type VoteRow = Omit<ConsensusVotesTable, "state" | "attempts" | "created_at" | "updated_at"> & {
  state: ConsensusVoteState;
  attempts: number;
};

export interface NewSeat {
  requestId: bigint;
  nodeId: bigint;
  seatIndex: number;
  n: number;
  /** From the request's own event when this node saw it; read later otherwise. */
  taskId: bigint | undefined;
  prompt: string | undefined;
  maxUnits: bigint | undefined;
  sealDeadline: bigint;
  revealDeadline: bigint;
}

/** Records a seat this node was drawn for; a replayed event changes nothing. */
export async function insertSeat(db: NodeDb, seat: NewSeat): Promise<void> {
  await db
    .insertInto("consensus_seats")
    .values({
      request_id: seat.requestId,
      node_id: seat.nodeId,
      seat_index: seat.seatIndex,
      n: seat.n,
      task_id: seat.taskId ?? null,
      prompt: seat.prompt?.toLowerCase() ?? null,
      max_units: seat.maxUnits === undefined ? null : unitBudget(seat.maxUnits),
      commit_deadline: seat.sealDeadline,
      reveal_deadline: seat.revealDeadline,
    })
    .onConflict((oc) => oc.column("request_id").doNothing())
    .execute();
}

export interface NewVote {
  disputeId: bigint;
  requestId: bigint;
  nodeId: bigint;
  commitDeadline: bigint;
  revealDeadline: bigint;
}

const voteRow = (vote: NewVote) => ({
  dispute_id: vote.disputeId,
  request_id: vote.requestId,
  node_id: vote.nodeId,
  commit_deadline: vote.commitDeadline,
  reveal_deadline: vote.revealDeadline,
});

/**
 * Records the vote row a private selection window gives this node (`CommitteeSelectionOpened`, any draw round). A row
 * an earlier round's window left and no committee seated (reveal deadline 0, the earlier window's end as its commit
 * deadline) is opened again for this window: pending, its outcome cleared, the recomputed vote kept (same request).
 * The same event seen again changes nothing.
 */
export async function recordSelectionVote(db: NodeDb, vote: NewVote): Promise<void> {
  await db
    .insertInto("consensus_votes")
    .values(voteRow(vote))
    .onConflict((oc) =>
      oc
        .column("dispute_id")
        .doUpdateSet({
          commit_deadline: vote.commitDeadline,
          state: "pending",
          outcome: null,
          tx_hash: null,
          attempts: 0,
          last_error: null,
          updated_at: sql`current_timestamp`,
        })
        .where((eb) =>
          eb.and([
            eb("consensus_votes.reveal_deadline", "=", 0n),
            eb("consensus_votes.commit_deadline", "<", vote.commitDeadline),
          ]),
        ),
    )
    .execute();
}

/**
 * Records the seat `DisputeOpened` gives this node. A row a private selection window recorded (reveal deadline 0)
 * takes the vote's deadlines and goes back to `pending`: a self-selected member's commit then finds its vote
 * already committed (`AlreadyCommitted`), and one the public top-up drew (not selected, or displaced by a lower
 * output) commits the vote it kept or recomputes it.
 */
export async function seatVote(db: NodeDb, vote: NewVote): Promise<void> {
  await db
    .insertInto("consensus_votes")
    .values(voteRow(vote))
    .onConflict((oc) =>
      oc
        .column("dispute_id")
        .doUpdateSet({
          commit_deadline: vote.commitDeadline,
          reveal_deadline: vote.revealDeadline,
          state: "pending",
          outcome: null,
          attempts: 0,
          last_error: null,
          updated_at: sql`current_timestamp`,
        })
        .where("consensus_votes.reveal_deadline", "=", 0n),
    )
    .execute();
}

const OPEN_SEATS: ConsensusSeatState[] = [
  "pending",
  "sealed",
  "revealed",
  "committed",
  "missed",
  "disputed",
  "delivering",
];
const OPEN_VOTES: ConsensusVoteState[] = ["pending", "committed", "revealed"];

export async function listOpenSeats(db: NodeDb, limit = 100): Promise<SeatRow[]> {
  return (await db
    .selectFrom("consensus_seats")
    .selectAll()
    .where("state", "in", OPEN_SEATS)
    .orderBy(uint256Digits("request_id"))
    .orderBy("request_id")
    .limit(limit)
    .execute()) as SeatRow[];
}

export async function listOpenVotes(db: NodeDb, limit = 100): Promise<VoteRow[]> {
  return (await db
    .selectFrom("consensus_votes")
    .selectAll()
    .where("state", "in", OPEN_VOTES)
    .orderBy(uint256Digits("dispute_id"))
    .orderBy("dispute_id")
    .limit(limit)
    .execute()) as VoteRow[];
}

export async function getSeat(db: NodeDb, requestId: bigint): Promise<SeatRow | undefined> {
  return (await db
    .selectFrom("consensus_seats")
    .selectAll()
    .where("request_id", "=", requestId)
    .executeTakeFirst()) as SeatRow | undefined;
}

export async function getVote(db: NodeDb, disputeId: bigint): Promise<VoteRow | undefined> {
  return (await db
    .selectFrom("consensus_votes")
    .selectAll()
    .where("dispute_id", "=", disputeId)
    .executeTakeFirst()) as VoteRow | undefined;
}

type SeatChanges = Partial<
  Pick<
    ConsensusSeatsTable,
    | "task_id"
    | "prompt"
    | "max_units"
    | "output"
    | "units"
    | "root"
    | "salt"
    | "agreed_root"
    | "delivery_deadline"
    | "dispute_id"
    | "dispute_deadline"
    | "outcome"
    | "tx_hash"
    | "last_error"
  >
> & { state?: ConsensusSeatState };

/**
 * Updates a seat, only while it is in one of `from` (when given): events and the worker race on the same row,
 * and an event that already closed a seat must win over a worker acting on an older read.
 */
export async function updateSeat(
  db: NodeDb,
  requestId: bigint,
  changes: SeatChanges,
  from?: readonly ConsensusSeatState[],
): Promise<boolean> {
  let query = db
    .updateTable("consensus_seats")
    .set({ ...changes, updated_at: sql`current_timestamp` })
    .where("request_id", "=", requestId);
  if (from) query = query.where("state", "in", [...from]);
  const rows = await query.returning("request_id").execute();
  return rows.length > 0;
}

type VoteChanges = Partial<
  Pick<ConsensusVotesTable, "output" | "result" | "outcome" | "tx_hash" | "last_error">
> & { state?: ConsensusVoteState };

export async function updateVote(
  db: NodeDb,
  disputeId: bigint,
  changes: VoteChanges,
  from?: readonly ConsensusVoteState[],
  /** Only while the row's commit deadline is still this one (a later window's reopening moves it). */
  commitDeadline?: bigint,
): Promise<boolean> {
  let query = db
    .updateTable("consensus_votes")
    .set({ ...changes, updated_at: sql`current_timestamp` })
    .where("dispute_id", "=", disputeId);
  if (from) query = query.where("state", "in", [...from]);
  if (commitDeadline !== undefined) query = query.where("commit_deadline", "=", commitDeadline);
  const rows = await query.returning("dispute_id").execute();
  return rows.length > 0;
}

/** Counts a failed attempt and keeps its message (never a prompt or an output). */
export async function recordSeatError(db: NodeDb, requestId: bigint, message: string): Promise<void> {
  await db
    .updateTable("consensus_seats")
    .set({
      attempts: sql`attempts + 1`,
      last_error: message.slice(0, 500),
      updated_at: sql`current_timestamp`,
    })
    .where("request_id", "=", requestId)
    .execute();
}

export async function recordVoteError(db: NodeDb, disputeId: bigint, message: string): Promise<void> {
  await db
    .updateTable("consensus_votes")
    .set({
      attempts: sql`attempts + 1`,
      last_error: message.slice(0, 500),
      updated_at: sql`current_timestamp`,
    })
    .where("dispute_id", "=", disputeId)
    .execute();
}

export { OPEN_SEATS, OPEN_VOTES };
