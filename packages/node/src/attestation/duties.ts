import type { Hash } from "@atoma/core";
import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { AttestationState } from "../db/schema.js";

/** A duty this node was given on-chain: recompute a settlement's sample as an attester or a committee member. */
export interface Duty {
  taskId: bigint;
  kind: "attest" | "committee";
  stackId: bigint;
  /** 0 for an attester; the dispute id for a committee member. */
  round: bigint;
  servingNodeId: bigint | undefined;
  transcriptId: Hash | undefined;
  indices: bigint[];
  state: AttestationState;
  commitment: Hash | undefined;
  result: string | undefined;
  commitDeadline: bigint | undefined;
  revealDeadline: bigint | undefined;
  eventBlock: bigint | undefined;
  attempts: number;
}

export interface NewDuty {
  kind: "attest" | "committee";
  stackId: bigint;
  round: bigint;
  indices: readonly bigint[];
  commitDeadline?: bigint | undefined;
  revealDeadline?: bigint | undefined;
  eventBlock: bigint;
}

/** The row a newly seen duty starts as: nothing done yet, only what the event told. */
function newDutyRow(duty: NewDuty) {
  return {
    kind: duty.kind,
    stack_id: duty.stackId,
    round: duty.round,
    serving_node_id: null,
    transcript_blob_id: null,
    sampled_indices: JSON.stringify(duty.indices.map(String)),
    commitment: null,
    commit_deadline: duty.commitDeadline ?? null,
    reveal_deadline: duty.revealDeadline ?? null,
    tx_hash: null,
    last_error: null,
    event_block: duty.eventBlock,
    result: null,
  };
}

/**
 * The row's event block moved to `block` when that is later (never back: a replayed older event leaves it). A step
 * skips a chain read pinned before it (`stepAttest`), so every event that opens a row again must move it: a replica
 * behind a public draw would otherwise read the row's earlier window as over with the node unseated and delete or
 * fail the duty the draw just gave.
 */
function laterEventBlock(block: bigint) {
  return sql<bigint>`case when attestation_tasks.event_block is null or attestation_tasks.event_block < cast(${block} as bigint) then cast(${block} as bigint) else attestation_tasks.event_block end`;
}

/** Records a duty (inside the listener's transaction); the same duty seen twice is recorded once. */
export async function insertDuty(db: NodeDb, duty: NewDuty): Promise<void> {
  await db
    .insertInto("attestation_tasks")
    .values(newDutyRow(duty))
    .onConflict((c) => c.columns(["kind", "stack_id", "round"]).doNothing())
    .execute();
}

/**
 * Records the committee duty a dispute's private selection window gives every node (`CommitteeSelectionOpened`; one
 * row per dispute, `round` = the dispute id). A row an earlier draw round's window left (its commit deadline, that
 * window's end, is earlier: the round formed no committee) is opened again for this window: pending, with no
 * commitment (a seat taken in the earlier window was dropped with it), the ballot kept (the disputed requests are the
 * same). The same event seen again changes nothing.
 */
export async function recordSelectionWindow(
  db: NodeDb,
  duty: NewDuty & { commitDeadline: bigint },
): Promise<void> {
  await db
    .insertInto("attestation_tasks")
    .values(newDutyRow(duty))
    .onConflict((c) =>
      c
        .columns(["kind", "stack_id", "round"])
        .doUpdateSet({
          state: "pending",
          commit_deadline: duty.commitDeadline,
          commitment: null,
          tx_hash: null,
          last_error: null,
          event_block: laterEventBlock(duty.eventBlock),
          updated_at: sql<Date>`current_timestamp`,
        })
        .where("attestation_tasks.commit_deadline", "<", duty.commitDeadline),
    )
    .execute();
}

/**
 * Records a duty for a member the manager drew onto a committee (`DisputeOpened`). A row the private selection left
 * sealed ("committed" to a `selfSelect` the window then dropped: the public fallback seats members uncommitted) is
 * made a proper drawn seat again: pending, with the stored ballot kept and the vote's deadlines, so the member
 * commits the same vote in time instead of waiting to reveal a commitment the manager never took. A row still
 * pending from the window gets the vote's deadlines too: a step that read it as a selection duty (the window over,
 * the node not seated) can then no longer delete it as read (`deleteDutyAsRead`), so the drawn node keeps its duty.
 * Every other row is left as it is (the same event seen again changes nothing).
 */
export async function recordDrawnSeat(db: NodeDb, duty: NewDuty): Promise<void> {
  await db
    .insertInto("attestation_tasks")
    .values(newDutyRow(duty))
    .onConflict((c) =>
      c
        .columns(["kind", "stack_id", "round"])
        .doUpdateSet({
          state: "pending",
          commit_deadline: duty.commitDeadline ?? null,
          reveal_deadline: duty.revealDeadline ?? null,
          last_error: null,
          event_block: laterEventBlock(duty.eventBlock),
          updated_at: sql<Date>`current_timestamp`,
        })
        .where("attestation_tasks.state", "in", ["committed", "pending"]),
    )
    .execute();
}

/**
 * Records the duty a replacement round's private window gives every node (`ReplacementSelectionOpened`). A row the
 * node's earlier part in the same settlement ended as failed (a candidate of the first window that was not seated
 * and found no window of its own in the public top-up) is opened again, with what the event tells: the node is a
 * candidate of the new round. Every other row is left as it is (an attester keeps its duty; the same event seen
 * twice changes nothing), and the step refuses a node that is no candidate.
 */
export async function recordReplacementDuty(db: NodeDb, duty: NewDuty): Promise<void> {
  await reopenFailed(db, duty, {});
}

/** Inserts `duty`, or opens the failed row it meets again as pending with `duty`'s deadline (and `also`). */
async function reopenFailed(db: NodeDb, duty: NewDuty, also: { sampled_indices?: string }): Promise<void> {
  await db
    .insertInto("attestation_tasks")
    .values(newDutyRow(duty))
    .onConflict((c) =>
      c
        .columns(["kind", "stack_id", "round"])
        .doUpdateSet({
          state: "pending",
          ...also,
          commit_deadline: duty.commitDeadline ?? null,
          commitment: null,
          result: null,
          last_error: null,
          event_block: laterEventBlock(duty.eventBlock),
          updated_at: sql<Date>`current_timestamp`,
        })
        .where("attestation_tasks.state", "=", "failed"),
    )
    .execute();
}

/**
 * Records the duty of a node a public draw names (`AttestersSampled`, or `AttesterReplaced` for a replacement or a
 * replacement round's public top-up). A row its earlier part in the same settlement ended as failed (a candidate of a
 * private window whose step saw the window close into a public top-up before the draw) is opened again, with what the
 * event tells: the node is an attester now and must commit or declare the transcript unavailable. A row still pending
 * from the window gets the draw's commit deadline (and its sample, when the event gives one): a step that read it as a
 * selection duty (the window over, the node not seated) can then no longer delete it as read (`deleteDutyAsRead`), so
 * the drawn node keeps its duty instead of being timed out and slashed for a draw it forgot. A committed row whose
 * commitment the manager never took (a `selfSelect` pushed out of the seats) is made pending by its step
 * (`stepAttest`).
 */
export async function recordPublicDraw(db: NodeDb, duty: NewDuty): Promise<void> {
  await reopenFailed(db, duty, { sampled_indices: JSON.stringify(duty.indices.map(String)) });
  await db
    .updateTable("attestation_tasks")
    .set({
      commit_deadline: duty.commitDeadline ?? null,
      ...(duty.indices.length > 0 ? { sampled_indices: JSON.stringify(duty.indices.map(String)) } : {}),
      event_block: laterEventBlock(duty.eventBlock),
      updated_at: sql<Date>`current_timestamp`,
    })
    .where("kind", "=", duty.kind)
    .where("stack_id", "=", duty.stackId)
    .where("round", "=", duty.round)
    .where("state", "=", "pending")
    .execute();
}

const OPEN_STATES: readonly AttestationState[] = ["pending", "committed", "revealed"];

/**
 * Duties still in progress (in `states`, a subset of the open ones: all of them unless told), at most `limit`, in
 * turn order: those recorded after duty `after` first (oldest first), then from the oldest again. A worker that
 * passes the last duty it started as `after` reaches every open duty in turn, however many there are (a bounded
 * scan from the oldest alone would leave the newest waiting for ever).
 */
export async function listOpenDuties(
  db: NodeDb,
  {
    after = 0n,
    limit = 100,
    states = OPEN_STATES,
  }: { after?: bigint; limit?: number; states?: readonly AttestationState[] } = {},
): Promise<Duty[]> {
  const open = () =>
    db
      .selectFrom("attestation_tasks")
      .selectAll()
      .where("state", "in", states)
      .where("kind", "in", ["attest", "committee"])
      .orderBy("task_id");
  const later = await open().where("task_id", ">", after).limit(limit).execute();
  const rows =
    later.length < limit && after > 0n
      ? [
          ...later,
          ...(await open()
            .where("task_id", "<=", after)
            .limit(limit - later.length)
            .execute()),
        ]
      : later;
  return rows.map((row) => ({
    taskId: row.task_id,
    kind: row.kind as "attest" | "committee",
    stackId: row.stack_id,
    round: row.round,
    servingNodeId: row.serving_node_id ?? undefined,
    transcriptId: (row.transcript_blob_id as Hash | null) ?? undefined,
    indices: (row.sampled_indices as string[]).map((i) => BigInt(i)),
    state: row.state,
    commitment: (row.commitment as Hash | null) ?? undefined,
    result: row.result ?? undefined,
    commitDeadline: row.commit_deadline ?? undefined,
    revealDeadline: row.reveal_deadline ?? undefined,
    eventBlock: row.event_block ?? undefined,
    attempts: row.attempts,
  }));
}

export interface DutyUpdate {
  state?: AttestationState;
  servingNodeId?: bigint;
  transcriptId?: Hash;
  indices?: readonly bigint[];
  commitment?: Hash;
  result?: string;
  commitDeadline?: bigint;
  txHash?: Hash;
  lastError?: string | null;
}

export async function updateDuty(db: NodeDb, taskId: bigint, update: DutyUpdate): Promise<void> {
  await db
    .updateTable("attestation_tasks")
    .set({
      ...(update.state === undefined ? {} : { state: update.state }),
      ...(update.servingNodeId === undefined ? {} : { serving_node_id: update.servingNodeId }),
      ...(update.transcriptId === undefined ? {} : { transcript_blob_id: update.transcriptId }),
      ...(update.indices === undefined
        ? {}
        : { sampled_indices: JSON.stringify(update.indices.map(String)) }),
      ...(update.commitment === undefined ? {} : { commitment: update.commitment }),
      ...(update.result === undefined ? {} : { result: update.result }),
      ...(update.commitDeadline === undefined ? {} : { commit_deadline: update.commitDeadline }),
      ...(update.txHash === undefined ? {} : { tx_hash: update.txHash }),
      ...(update.lastError === undefined ? {} : { last_error: update.lastError }),
      updated_at: sql<Date>`current_timestamp`,
    })
    .where("task_id", "=", taskId)
    .execute();
}

/** Counts a failed step: the error's code and short message only (never a prompt). */
export async function recordDutyError(db: NodeDb, taskId: bigint, message: string): Promise<void> {
  await db
    .updateTable("attestation_tasks")
    .set({
      attempts: sql<number>`attempts + 1`,
      last_error: message.slice(0, 500),
      updated_at: sql<Date>`current_timestamp`,
    })
    .where("task_id", "=", taskId)
    .execute();
}

/**
 * Forgets a duty (a selection window this node was not selected in), so that a later draw naming the node (a
 * public fallback draw) records its duty afresh.
 */
export async function deleteDuty(db: NodeDb, taskId: bigint): Promise<void> {
  await db.deleteFrom("attestation_tasks").where("task_id", "=", taskId).execute();
}

/**
 * Deletes `duty`'s row only while it is still as the step read it (same state, same deadlines): a listener that
 * reopened the row for a new selection window meanwhile (`recordSelectionWindow`) or made it a drawn seat
 * (`recordDrawnSeat`) keeps it, so a step acting on the earlier window cannot forget the node's duty in the next one,
 * or its seat in the committee the public fallback drew.
 */
export async function deleteDutyAsRead(db: NodeDb, duty: Duty): Promise<void> {
  await db
    .deleteFrom("attestation_tasks")
    .where("task_id", "=", duty.taskId)
    .where("state", "=", duty.state)
    .where((eb) =>
      duty.commitDeadline === undefined
        ? eb("commit_deadline", "is", null)
        : eb("commit_deadline", "=", duty.commitDeadline),
    )
    .where((eb) =>
      duty.revealDeadline === undefined
        ? eb("reveal_deadline", "is", null)
        : eb("reveal_deadline", "=", duty.revealDeadline),
    )
    .execute();
}
