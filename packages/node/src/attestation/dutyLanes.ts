import type { AttestationState } from "../db/schema.js";

/** The attestation worker's two sets of slots. */
export type DutyLane = "compute" | "chain";

export const DUTY_LANES: readonly DutyLane[] = ["chain", "compute"];

/**
 * The duties each lane runs, by the state of their rows when the step starts. Only a duty still to commit (pending)
 * fetches a transcript or recomputes (`stepAttest`, `stepCommittee` and the private selections they start): a step
 * a griefing server can make long. A committed or revealed duty only reads the chain and sends to it (an opening, a
 * vote's reveal and its outputs, a deadline's trigger, a draw): one cheap transaction whose deadline slashes when
 * missed, so it runs in slots of its own, never behind a recompute.
 */
export const LANE_STATES: Readonly<Record<DutyLane, readonly AttestationState[]>> = {
  compute: ["pending"],
  chain: ["committed", "revealed"],
};
