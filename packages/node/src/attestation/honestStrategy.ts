import { attestationResult } from "@atoma/chain";
import type { CommitStrategy } from "./commitStrategy.js";

/** Recompute, then commit to (or vote for) what the engine produced. */
export const honestStrategy: CommitStrategy = {
  attest: async (input) => ({ sample: await input.recompute() }),
  vote: async (input) => attestationResult(await input.recompute()),
};
