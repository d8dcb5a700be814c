import type { Verdict } from "@atoma/sdk";

/** Settlement states a verdict no longer moves from (a fraud proven after payment shows in `atoma verify`). */
const FINAL = new Set(["finalized", "failed", "node_slashed"]);

/** Whether the verdict's settlement is one it no longer moves from. */
export const isFinal = (verdict: Verdict | undefined): boolean =>
  verdict?.settlement !== undefined && FINAL.has(verdict.settlement);

/**
 * What a turn shows once a re-check answers `fresh` over `shown`: re-checks can answer out of order (one queued
 * behind another, or read from an RPC backend that lags), so a final verdict is never replaced by one that is not;
 * and a proof the node did not hand over this time is no finding against an answer already verified.
 */
export function nextVerdict(shown: Verdict | undefined, fresh: Verdict): Verdict {
  if (shown === undefined) return fresh;
  if (isFinal(shown) && !isFinal(fresh)) return shown;
  if (shown.ok && !fresh.ok && fresh.failures.every((code) => code === "proof_unavailable")) return shown;
  return fresh;
}
