import type { OpenedDatabase } from "../../src/db/openGatewayDatabase.js";

/** The state the gateway's database gives stack `stackId` (leased, retired, …). */
export const stackState = async (opened: OpenedDatabase, stackId = 1n) =>
  (
    await opened.db
      .selectFrom("stacks")
      .select("state")
      .where("stack_id", "=", stackId)
      .executeTakeFirstOrThrow()
  ).state;
