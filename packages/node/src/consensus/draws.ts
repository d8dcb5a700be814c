import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { ConsensusDrawState, ConsensusDrawsTable } from "../db/schema.js";
import { uint256Digits } from "../db/uint256Order.js";
import { unitBudget } from "./unitBudget.js";

export type DrawRow = Omit<ConsensusDrawsTable, "state" | "attempts" | "created_at" | "updated_at"> & {
  state: ConsensusDrawState;
  attempts: number;
};

export interface NewDraw {
  requestId: bigint;
  taskId: bigint;
  n: number;
  prompt: string;
  maxUnits: bigint;
  drawBlock: bigint;
  candidates: readonly bigint[];
}

/** Records a request whose seats are still to be drawn; a replayed event changes nothing. */
export async function insertDraw(db: NodeDb, draw: NewDraw): Promise<void> {
  await db
    .insertInto("consensus_draws")
    .values({
      request_id: draw.requestId,
      task_id: draw.taskId,
      n: draw.n,
      prompt: draw.prompt.toLowerCase(),
      max_units: unitBudget(draw.maxUnits),
      draw_block: draw.drawBlock,
      candidates: draw.candidates.join(","),
    })
    .onConflict((oc) => oc.column("request_id").doNothing())
    .execute();
}

export async function getDraw(db: NodeDb, requestId: bigint): Promise<DrawRow | undefined> {
  return (await db
    .selectFrom("consensus_draws")
    .selectAll()
    .where("request_id", "=", requestId)
    .executeTakeFirst()) as DrawRow | undefined;
}

export async function listPendingDraws(db: NodeDb, limit = 100): Promise<DrawRow[]> {
  return (await db
    .selectFrom("consensus_draws")
    .selectAll()
    .where("state", "=", "pending")
    .orderBy(uint256Digits("request_id"))
    .orderBy("request_id")
    .limit(limit)
    .execute()) as DrawRow[];
}

export async function updateDraw(
  db: NodeDb,
  requestId: bigint,
  changes: Partial<Pick<ConsensusDrawsTable, "draw_block" | "last_error">> & { state?: ConsensusDrawState },
  from: readonly ConsensusDrawState[] = ["pending"],
): Promise<boolean> {
  const rows = await db
    .updateTable("consensus_draws")
    .set({ ...changes, updated_at: sql`current_timestamp` })
    .where("request_id", "=", requestId)
    .where("state", "in", [...from])
    .returning("request_id")
    .execute();
  return rows.length > 0;
}

/** The candidates a draw row keeps, as the contract wants them back. */
export function drawCandidates(row: DrawRow): bigint[] {
  return row.candidates === "" ? [] : row.candidates.split(",").map((id) => BigInt(id));
}

/** Counts a failed attempt and keeps its message (never a prompt). */
export async function recordDrawError(db: NodeDb, requestId: bigint, message: string): Promise<void> {
  await db
    .updateTable("consensus_draws")
    .set({
      attempts: sql`attempts + 1`,
      last_error: message.slice(0, 500),
      updated_at: sql`current_timestamp`,
    })
    .where("request_id", "=", requestId)
    .execute();
}
