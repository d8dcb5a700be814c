import type { CommitStrategy } from "./commitStrategy.js";

/** Recompute, then commit to (or vote with) what the engine produced. */
export const honestStrategy: CommitStrategy = {
  attest: async (input) => ({ sample: await input.recompute() }),
  vote: async (input) => ({ outputs: await input.recompute() }),
};
