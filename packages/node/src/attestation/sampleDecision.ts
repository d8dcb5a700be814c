import { type AttestationEnv, taskModelOf } from "./attestationEnv.js";
import type { AttestDecision } from "./commitStrategy.js";
import { recomputeSample } from "./recompute.js";

/** What an attester (drawn or self-selected) decides on a loaded sample: the strategy, given the honest recomputation. */
export async function decideOnSample(
  env: AttestationEnv,
  duty: { stackId: bigint; nodeId: bigint; indices: readonly bigint[]; bodies: readonly unknown[] },
  signal: AbortSignal,
): Promise<AttestDecision> {
  const taskModelId = await taskModelOf(env, duty.stackId);
  return env.strategy.attest({
    stackId: duty.stackId,
    nodeId: duty.nodeId,
    indices: duty.indices,
    chain: env.seat,
    recompute: () => recomputeSample(env.engine(), duty.bodies, { taskModelId, signal }),
  });
}
