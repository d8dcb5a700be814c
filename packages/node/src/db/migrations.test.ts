import { describe, expect, it } from "vitest";
import { nodeMigrations } from "./migrations.js";

describe("nodeMigrations", () => {
  it("keeps every version's name and order, so databases migrated before are not migrated again", async () => {
    expect(Object.keys(await nodeMigrations.getMigrations())).toEqual([
      "0001_initial",
      "0003_settle_progress",
      "0003_settle_replies_to_challenges",
      "0004_attest_duties",
      "0005_consensus_duties",
      "0006_consensus_seal",
      "0007_api_leaves_json_text",
      "0008_api_stack_settle_deadline",
      "0009_settle_dispute_evidence",
      "0010_confidential_replays",
      "0011_api_one_trip_commit",
      "0012_settle_held_bonds_collected",
      "0013_api_denied_leaves",
    ]);
  });
});
