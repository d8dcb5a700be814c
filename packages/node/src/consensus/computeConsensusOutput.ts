import { CONSENSUS_REFUSAL } from "@atoma/core";
import {
  ContextLengthExceededError,
  type InferenceEngine,
  InvalidRequestError,
  UnsupportedParameterError,
} from "@atoma/engine";
import type { Address, Hex } from "viem";
import type { AdmissionGate } from "../admission/admissionGate.js";
import { consensusChatBody, consensusSeed, outputBytes } from "./consensusBody.js";

export interface ConsensusJob {
  consensusRequests: Address;
  requestId: bigint;
  prompt: Hex;
  maxUnits: bigint;
  model: string;
  maxOutputTokens: number;
  maxOutputBytes: number;
  /** Set for a dispute recompute: it neither uses nor fills a prefix cache other clients share (`consensusChatBody`). */
  cacheSalt?: string | undefined;
}

export interface ConsensusOutput {
  output: Hex;
  units: bigint;
  /** Whether the engine refused the request (the output is then CONSENSUS_REFUSAL, for 0 units). */
  refused: boolean;
}

/**
 * Runs a request's prompt the way every honest node does (see `consensusChatBody`), under the admission gate.
 * A request the engine refuses for what it is (the prompt does not fit the context, the body is not one it can
 * run) is answered with CONSENSUS_REFUSAL for 0 units: every node of the echelon (same engine, same context size,
 * which the echelon fingerprint fixes) refuses it the same way, so the refusal is checkable, and nobody is paid
 * or slashed for it. Anything else (busy, stopped, aborted) is thrown, and the duty retries.
 */
export async function computeConsensusOutput(
  components: { engine: InferenceEngine; admission: AdmissionGate },
  job: ConsensusJob,
): Promise<ConsensusOutput> {
  const seed = consensusSeed(job.consensusRequests, job.requestId);
  const base = consensusChatBody({ model: job.model, prompt: job.prompt, seed });
  const permit = await components.admission.acquire();
  try {
    const { count } = await components.engine.tokenize({ model: job.model, messages: base.messages });
    const room = job.maxUnits - BigInt(count);
    if (room <= 0n) return { output: "0x", units: job.maxUnits, refused: false };
    const maxTokens = Number(room < BigInt(job.maxOutputTokens) ? room : BigInt(job.maxOutputTokens));
    const { response } = await components.engine.chat(
      consensusChatBody({ model: job.model, prompt: job.prompt, seed, maxTokens, cacheSalt: job.cacheSalt }),
    );
    const text = response.choices[0]?.message.content ?? "";
    const used = BigInt(response.usage.prompt_tokens + response.usage.completion_tokens);
    const units = used < 1n ? 1n : used > job.maxUnits ? job.maxUnits : used;
    return { output: outputBytes(text, job.maxOutputBytes), units, refused: false };
  } catch (error) {
    if (isRefusal(error)) return { output: CONSENSUS_REFUSAL, units: 0n, refused: true };
    throw error;
  } finally {
    permit.release();
  }
}

function isRefusal(error: unknown): boolean {
  return (
    error instanceof ContextLengthExceededError ||
    error instanceof InvalidRequestError ||
    error instanceof UnsupportedParameterError
  );
}
