import type { Hash, TranscriptEntry } from "@atoma/core";
import type { Context } from "hono";
import type { CommittedLeaf, Reservation } from "../accounting/types.js";
import { ReservationNotFoundError, StackClosedError } from "../errors.js";
import type { Endpoint, StackApi } from "./apiContext.js";
import { type Answer, leafInput } from "./leafInput.js";
import { signReceipt } from "./receipt.js";
import { runEngine } from "./runEngine.js";

export interface Admitted {
  endpoint: Endpoint;
  body: Record<string, unknown>;
  reqHash: Hash;
  reservation: Reservation;
  /** The leaf's `request`: the owner-signed transcript entry. */
  request: TranscriptEntry;
  signal: AbortSignal;
  /** `performance.now()` when the request arrived. */
  started: number;
}

/**
 * Records an answer as its reservation's leaf. When the reservation is gone — the stack was frozen for
 * settlement near its deadline while this request ran — the answer is not recorded and must not be delivered:
 * `StackClosedError` (409). When it throws, the reservation (if still open) is the caller's to release.
 */
export async function commitAnswer(
  api: StackApi,
  admitted: Admitted,
  answer: Answer,
  seed: number | bigint,
): Promise<CommittedLeaf> {
  const leaf = leafInput(admitted.request, admitted.reqHash, answer, seed);
  try {
    return await api.accounting.commit(admitted.reservation, leaf);
  } catch (error) {
    if (error instanceof ReservationNotFoundError)
      throw new StackClosedError(admitted.reservation.stackId, "settling");
    throw error;
  }
}

/**
 * Runs a non-streamed request on its reservation: the engine, then the leaf committed with the real usage
 * (before a byte of the answer is written), then the signed answer. Releases the reservation on any failure:
 * an answer that could not be recorded is never sent (the client gets an OpenAI-shaped error instead).
 */
export async function completeInference(api: StackApi, c: Context, admitted: Admitted): Promise<Response> {
  const { endpoint, reservation } = admitted;
  let committed = false;
  try {
    const { response, seed } = await runEngine(api.engine, endpoint, admitted.body, admitted.signal);
    const leaf = await commitAnswer(api, admitted, response, seed);
    committed = true;
    recordSuccess(api, endpoint, response.usage, admitted.started);
    return c.json({ ...response, atoma: await signReceipt(api, leaf) });
  } finally {
    if (!committed) await releaseQuietly(api, reservation);
  }
}

export function recordSuccess(
  api: StackApi,
  endpoint: Endpoint,
  usage: { prompt_tokens: number; completion_tokens?: number | undefined },
  started: number,
): void {
  const metrics = api.metrics;
  if (!metrics) return;
  metrics.requests.inc({ endpoint, outcome: "ok" });
  metrics.tokens.inc({ kind: "prompt" }, usage.prompt_tokens);
  if (usage.completion_tokens) metrics.tokens.inc({ kind: "completion" }, usage.completion_tokens);
  metrics.requestDuration.observe({ endpoint }, (performance.now() - started) / 1000);
}

/** Gives the units back; a failure here is logged, not thrown (start-up releases what a crash leaves). */
export async function releaseQuietly(api: StackApi, reservation: Reservation): Promise<void> {
  try {
    await api.accounting.release(reservation);
  } catch (error) {
    api.logger.error({ err: error, reservation: reservation.id }, "releasing a reservation failed");
  }
}
