import type { CommittedLeaf } from "../accounting/types.js";
import { ReservationNotFoundError, StackClosedError } from "../errors.js";
import type { StackApi } from "./apiContext.js";
import { UsageOverSignedError } from "./errors.js";
import { type Answer, leafInput } from "./leafInput.js";
import type { Admitted } from "./signedRequest.js";

/**
 * Records an answer as its reservation's leaf. When the reservation is gone — the stack was frozen for
 * settlement near its deadline while this request ran — the answer is not recorded and must not be delivered:
 * `StackClosedError` (409). An answer using more units than the owner signed is refused (`UsageOverSignedError`):
 * a leaf above its signed bound is slashable. When it throws, the reservation (if still open) is the caller's to
 * release.
 */
export async function commitAnswer(
  api: StackApi,
  admitted: Admitted,
  answer: Answer,
  seed: number | bigint,
): Promise<CommittedLeaf> {
  const leaf = leafInput(admitted.request, admitted.reqHash, answer, seed);
  const signedMax = BigInt(admitted.request.max_units);
  if (leaf.units > signedMax) throw new UsageOverSignedError(leaf.units, signedMax);
  try {
    return await api.accounting.commit(admitted.reservation, leaf);
  } catch (error) {
    if (error instanceof ReservationNotFoundError)
      throw new StackClosedError(admitted.reservation.stackId, "settling");
    throw error;
  }
}
