import type { OpenedDatabase } from "../../src/db/openGatewayDatabase.js";

/** The state the gateway's database gives stack `stackId` (leased, retired, …). */
export async function stackState(opened: OpenedDatabase, stackId = 1n) {
  const { state } = await opened.db
    .selectFrom("stacks")
    .select("state")
    .where("stack_id", "=", stackId)
    .executeTakeFirstOrThrow();
  return state;
}
