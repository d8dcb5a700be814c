/** The block time assumed when the node's configuration gives none. */
export const DEFAULT_BLOCK_TIME_MS = 2_000;

/** Block times that must be left before a selection window closes for the node to send its proof. */
export const SEND_MARGIN_BLOCKS = 2;

/**
 * Whether a selection proof sent now can still land inside the window (`selfSelect` at chain time `now`, the
 * window closing at `endsAt`): at least `SEND_MARGIN_BLOCKS` block times must be left. A proof that lands after
 * `endsAt` reverts, yet its transaction (and the VRF proof in it) is public: anyone could then report the node
 * as a silent selected attester (`reportSilentSelection`). A proof never sent cannot be shown by anyone.
 */
export function canSendSelection(endsAt: bigint, now: bigint, blockTimeMs: number): boolean {
  const marginSeconds = BigInt(Math.ceil((SEND_MARGIN_BLOCKS * blockTimeMs) / 1000));
  return endsAt - now >= marginSeconds;
}
