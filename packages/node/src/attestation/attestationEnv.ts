import { getSampledIndices, getStack, getTask, latestBlock } from "@atoma/chain";
import type { Hash } from "@atoma/core";
import type { DutyEnv } from "../duties/dutyEnv.js";
import type { CommitStrategy } from "./commitStrategy.js";
import { type Duty, updateDuty } from "./duties.js";
import { SettlementNotFoundError } from "./errors.js";
import {
  type FetchTranscriptOptions,
  fetchSampledRequests,
  postedRequests,
  type SampledRequests,
  settlementFacts,
} from "./sampledRequests.js";
import type { VrfKeyKeeper } from "./vrfKey.js";

/** What an attestation duty step works with: the duty environment and the attestation part's options. */
export type AttestationEnv = DutyEnv<{
  strategy: CommitStrategy;
  lookbackBlocks: bigint;
  transcript: FetchTranscriptOptions;
  /** Task model ids by stack, read once (a stack's task never changes). */
  taskModels: Map<bigint, Hash>;
  /** The node's VRF key for private self-selection (registered on first use). */
  vrfKeys: VrfKeyKeeper;
  /** Milliseconds between the chain's blocks: a selection proof needs two of them left in its window. */
  blockTimeMs?: number | undefined;
}>;

/** First block a duty's log searches start at. */
export function searchFrom(env: AttestationEnv, duty: Duty): bigint {
  const at = duty.eventBlock ?? 0n;
  return at > env.lookbackBlocks ? at - env.lookbackBlocks : 0n;
}

/**
 * Fills in what the duty's event did not say (the serving node, the transcript id, the sampled indices), from the
 * chain, and records it on the duty row.
 */
export async function completeDuty(env: AttestationEnv, duty: Duty): Promise<Duty> {
  let { servingNodeId, transcriptId, indices } = duty;
  if (servingNodeId === undefined || transcriptId === undefined) {
    const facts = await settlementFacts(
      env.seat,
      duty.stackId,
      duty.eventBlock ?? (await latestBlock(env.seat)).number,
      env.lookbackBlocks,
    );
    if (!facts) throw new SettlementNotFoundError(`no settlement found for stack ${duty.stackId}`);
    ({ servingNodeId, transcriptId } = facts);
  }
  if (indices.length === 0) indices = [...(await getSampledIndices(env.seat, duty.stackId))];
  if (
    servingNodeId !== duty.servingNodeId ||
    transcriptId !== duty.transcriptId ||
    indices.length !== duty.indices.length
  )
    await updateDuty(env.db, duty.taskId, { servingNodeId, transcriptId, indices });
  return { ...duty, servingNodeId, transcriptId, indices };
}

/** The sampled requests: the calldata the server posted when it had to, otherwise its transcript. */
export async function loadSample(
  env: AttestationEnv,
  duty: Duty,
  dataPosted: boolean,
  signal?: AbortSignal,
): Promise<SampledRequests | undefined> {
  if (dataPosted) return postedRequests(env.seat, duty.stackId, searchFrom(env, duty), duty.indices.length);
  return fetchSampledRequests(
    env.seat,
    {
      stackId: duty.stackId,
      facts: { servingNodeId: duty.servingNodeId!, transcriptId: duty.transcriptId! },
      indices: duty.indices,
    },
    { ...env.transcript, signal },
  );
}

/** The on-chain model id of the task a stack was bought on (what a valid sampled request must name). */
export async function taskModelOf(env: AttestationEnv, stackId: bigint): Promise<Hash> {
  const cached = env.taskModels.get(stackId);
  if (cached) return cached;
  const { taskId } = await getStack(env.seat, stackId);
  const { modelId } = await getTask(env.seat, taskId);
  env.taskModels.set(stackId, modelId);
  return modelId;
}

/**
 * A signal for work that must end before chain time `deadline` (unix seconds; chain time `now`): `signal`, also
 * aborted once that much wall time has passed, so a recompute never runs past the point where its commitment
 * could still land.
 */
export function beforeDeadline(signal: AbortSignal | undefined, deadline: bigint, now: bigint): AbortSignal {
  const left = deadline > now ? Number(deadline - now) * 1_000 : 0;
  const timeout = AbortSignal.timeout(Math.max(left, 1_000));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
