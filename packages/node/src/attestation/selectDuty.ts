import {
  type AttesterSelection,
  attestationCommitment,
  attestationResult,
  attesterCandidatesOf,
  ContractRevertError,
  currentAttesterSelection,
  evaluateSelection,
  getSampledIndices,
  getSettlement,
  getStack,
  getTask,
  hasAnsweredSelection,
  requestSelectionData,
  selectionSampleIndices,
  selfSelect,
  vrfKeyUsableForSettlement,
} from "@atoma/chain";
import { type AttestationEnv, beforeDeadline, completeDuty, loadSample } from "./attestationEnv.js";
import { attestationSalt } from "./attestationSalt.js";
import { type Duty, deleteDutyAsRead, updateDuty } from "./duties.js";
import { TranscriptFraudError, TranscriptUnusableError } from "./errors.js";
import { decideOnSample } from "./sampleDecision.js";
import { canSendSelection, DEFAULT_BLOCK_TIME_MS } from "./selectionDeadline.js";

/**
 * A settlement's private selection window is open (`SettlementDraw.SelectionOpened` for the first draw,
 * `ReplacementSelectionOpened` for a replacement round): the node fetches the sampled requests and recomputes them
 * (every candidate does both, as cover: neither a fetch nor a busy engine tells a probing server who was selected),
 * then evaluates its VRF on the window's seed, alone. Not selected, it forgets the duty. Selected, it commits to
 * what it recomputed in the same transaction as its VRF proof (`selfSelect`): the server learns it is checked only
 * once a commitment is in. The first draw's sample is at the indices the window's seed gives; a replacement's is
 * the settlement's own. A transcript it cannot use (or cannot fetch within half of what is left of the window) makes
 * it ask for the sampled requests on chain (in its round's window) before it evaluates, selected or not, so asking tells
 * nobody anything; selected, it keeps the duty and recomputes from the posted requests once they are in. It never
 * seats without a commitment, and never sends its proof with fewer than two block times left in the window
 * (`canSendSelection`).
 */
/** Milliseconds between blocks when the attestation part was not told (`blockTimeMs`). */

export async function stepSelect(
  env: AttestationEnv,
  duty: Duty,
  at: {
    me: bigint;
    selection: AttesterSelection & { round: number };
    requestCount: number | bigint;
    now: bigint;
  },
  signal?: AbortSignal,
): Promise<void> {
  const { me, selection, now } = at;
  if (selection.nodeIds.includes(me)) {
    await updateDuty(env.db, duty.taskId, { state: duty.commitment ? "committed" : "pending" });
    return;
  }
  const key = await env.vrfKeys.key();
  if (!key || now > selection.endsAt) return deleteDutyAsRead(env.db, duty);
  // Proved its selection, and lower outputs took the cap's seats: nothing more to send.
  if (await hasAnsweredSelection(env.seat, duty.stackId, me, selection.round))
    return deleteDutyAsRead(env.db, duty);
  const candidates = await attesterCandidatesOf(env.seat, duty.stackId);
  if (!candidates.includes(me)) return deleteDutyAsRead(env.db, duty);
  // A key registered at or after the freeze cannot select this node (`VrfKeyTooNew`): no recompute, no doomed tx.
  if (!(await vrfKeyUsableForSettlement(env.seat, { stackId: duty.stackId, nodeId: me })))
    return deleteDutyAsRead(env.db, duty);
  const indices =
    selection.round === 0
      ? await firstDrawIndices(env, duty.stackId, selection, at.requestCount)
      : await getSampledIndices(env.seat, duty.stackId);
  const full = await completeDuty(env, { ...duty, indices: [...indices] });
  const { dataPosted } = await getSettlement(env.seat, duty.stackId);
  const bounded = beforeDeadline(signal, selection.endsAt, now);
  // Every candidate fetches the sampled requests before it evaluates, selected or not: a fetch tells the server
  // nothing about who was selected, or whether anyone was. The fetch gets at most half of what is left of the
  // window, so a server that answers just before the timeout cannot eat the recompute's time.
  const fetchMs = Math.min(env.transcript.timeoutMs, Number(selection.endsAt - now) * 500);
  let sample: Awaited<ReturnType<typeof loadSample>>;
  try {
    sample = await loadSample(
      { ...env, transcript: { ...env.transcript, timeoutMs: Math.max(fetchMs, 1) } },
      full,
      dataPosted,
      bounded,
    );
  } catch (error) {
    if (!(error instanceof TranscriptUnusableError || error instanceof TranscriptFraudError)) throw error;
    if (selection.dataDeadline === 0n) await askForData(env, duty.stackId, me, candidates);
  }
  // Recomputed before the VRF is evaluated, selected or not: a server probing candidates' engines with the sampled
  // prompts (it served them) sees every candidate busy alike (the review's M2 for attesters).
  const decision = sample
    ? await decideOnSample(
        env,
        { stackId: duty.stackId, nodeId: me, indices: full.indices, bodies: sample.bodies },
        bounded,
      )
    : undefined;
  // No sample yet (unusable, or posted requests not all visible) or no decision in time: the duty stays, selected or
  // not, and a later step recomputes from the requests the server posts (every candidate alike).
  if (!decision) return;
  const evaluated = evaluateSelection(key, selection);
  if (!evaluated.selected) return deleteDutyAsRead(env.db, duty);
  env.logger.info(
    { stackId: duty.stackId.toString(), round: selection.round },
    "selected as an attester (private)",
  );
  const recomputed = "sample" in decision ? decision.sample : undefined;
  const salt = await attestationSalt(env.account, {
    chainId: env.seat.chainId,
    settlementManager: env.seat.addresses.SettlementManager,
    stackId: duty.stackId,
    nodeId: me,
  });
  const commitment = recomputed
    ? attestationCommitment(me, attestationResult(recomputed), salt)
    : (decision as { commitment: `0x${string}` }).commitment;
  await updateDuty(env.db, duty.taskId, {
    commitment,
    ...(recomputed
      ? { result: JSON.stringify({ respHashes: recomputed.respHashes, units: recomputed.units.map(String) }) }
      : {}),
  });
  // The recompute took time: a proof that cannot land before `endsAt` is kept, never broadcast (a reverted
  // selfSelect would publish the proof that makes this node reportable as silent).
  if (!canSendSelection(selection.endsAt, await env.seat.now(), env.blockTimeMs ?? DEFAULT_BLOCK_TIME_MS)) {
    env.logger.warn(
      { stackId: duty.stackId.toString() },
      "selection window closing: selection proof not sent",
    );
    env.metrics?.attestations.inc({ role: "attester", outcome: "missed" });
    return deleteDutyAsRead(env.db, duty);
  }
  const sent = await selfSelect(env.seat, {
    stackId: duty.stackId,
    nodeId: me,
    proof: evaluated,
    commitment,
    candidates,
  });
  await updateDuty(env.db, duty.taskId, { state: "committed", txHash: sent.hash, lastError: null });
  env.metrics?.attestations.inc({ role: "attester", outcome: "committed" });
}

/** The request indices of a first draw's window: those the settlement manager samples from its seed at the close. */
async function firstDrawIndices(
  env: AttestationEnv,
  stackId: bigint,
  selection: AttesterSelection,
  requestCount: number | bigint,
): Promise<readonly bigint[]> {
  const { taskId } = await getStack(env.seat, stackId);
  const { sampleSize } = await getTask(env.seat, taskId);
  return selectionSampleIndices(env.seat, {
    seed: selection.seed,
    requestCount: BigInt(requestCount),
    sampleSize: BigInt(sampleSize),
  });
}

/** Asks for the sampled requests on chain; another candidate asking first is as good. */
async function askForData(
  env: AttestationEnv,
  stackId: bigint,
  me: bigint,
  candidates: readonly bigint[],
): Promise<void> {
  try {
    await requestSelectionData(env.seat, { stackId, nodeId: me, candidates });
    env.logger.warn({ stackId: stackId.toString() }, "transcript unusable: asked for the sampled requests");
  } catch (error) {
    if (error instanceof ContractRevertError && error.errorName === "DataAlreadyRequested") return;
    throw error;
  }
}

/**
 * The private selection window (open or closed) of the draw `stackId` has armed now, with its round: the first
 * draw's or a replacement round's; undefined for a public draw (or a public top-up).
 */
export async function openSelection(
  env: AttestationEnv,
  stackId: bigint,
): Promise<(AttesterSelection & { round: number }) | undefined> {
  if (!env.seat.addresses.VrfKeyRegistry) return undefined;
  return currentAttesterSelection(env.seat, stackId);
}
