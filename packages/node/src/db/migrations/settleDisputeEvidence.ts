import type { Kysely, Migration } from "kysely";
import { uint256 } from "./columns.js";

/**
 * A dispute on one of this node's settlements: the server posts the disputed owner-signed requests on chain before
 * the evidence deadline (withholding them loses the dispute), then helps the dispute on (committee draw, resolve).
 */
export const settleDisputeEvidence: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("settlements")
      .addColumn("dispute_id", uint256)
      .addColumn("evidence_deadline", "bigint")
      .addColumn("evidence_tx", "text")
      .execute();
  },
};
