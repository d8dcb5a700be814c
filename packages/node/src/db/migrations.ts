import type { MigrationProvider } from "kysely";
import { attestDuties } from "./migrations/attestDuties.js";
import { confidentialReplays } from "./migrations/confidentialReplays.js";
import { consensusDuties } from "./migrations/consensusDuties.js";
import { consensusSeal } from "./migrations/consensusSeal.js";
import { deniedLeaves } from "./migrations/deniedLeaves.js";
import { heldBondsCollected } from "./migrations/heldBondsCollected.js";
import { initial } from "./migrations/initial.js";
import { leavesAsJsonText } from "./migrations/leavesAsJsonText.js";
import { oneTripCommit } from "./migrations/oneTripCommit.js";
import { settleChallenges } from "./migrations/settleChallenges.js";
import { settleDisputeEvidence } from "./migrations/settleDisputeEvidence.js";
import { settleProgress } from "./migrations/settleProgress.js";
import { stackSettleDeadline } from "./migrations/stackSettleDeadline.js";

/** The migrations in order, provided from code so the built package needs no migration files on disk. */
export const nodeMigrations: MigrationProvider = {
  async getMigrations() {
    return {
      "0001_initial": initial,
      "0003_settle_progress": settleProgress,
      "0003_settle_replies_to_challenges": settleChallenges,
      "0004_attest_duties": attestDuties,
      "0005_consensus_duties": consensusDuties,
      "0006_consensus_seal": consensusSeal,
      "0007_api_leaves_json_text": leavesAsJsonText,
      "0008_api_stack_settle_deadline": stackSettleDeadline,
      "0009_settle_dispute_evidence": settleDisputeEvidence,
      "0010_confidential_replays": confidentialReplays,
      "0011_api_one_trip_commit": oneTripCommit,
      "0012_settle_held_bonds_collected": heldBondsCollected,
      "0013_api_denied_leaves": deniedLeaves,
    };
  },
};
