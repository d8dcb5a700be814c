import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";

/**
 * Start-up recovery: every reservation still in the database belonged to a request that died with the previous
 * process (its response never completed, so it used nothing). Drops them all and zeroes the stacks' reserved
 * units, in one transaction. Run it before the API takes requests; one node process per database.
 */
export async function releaseDanglingReservations(
  db: NodeDb,
): Promise<{ reservations: number; units: bigint }> {
  return db.transaction().execute(async (trx) => {
    const dropped = await trx.deleteFrom("reservations").returning("units").execute();
    await trx
      .updateTable("stacks")
      .set({ units_reserved: 0n, updated_at: sql`current_timestamp` })
      .where("units_reserved", "<>", 0n)
      .execute();
    return { reservations: dropped.length, units: dropped.reduce((sum, row) => sum + row.units, 0n) };
  });
}
