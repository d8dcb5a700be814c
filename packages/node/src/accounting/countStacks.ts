import type { NodeDb } from "../db/openStateDatabase.js";

/** How many stacks are in each state (every stack this node recorded). */
export async function countStacks(db: NodeDb): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom("stacks")
    .select(["state", (eb) => eb.fn.countAll<bigint>().as("count")])
    .groupBy("state")
    .execute();
  return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
}
