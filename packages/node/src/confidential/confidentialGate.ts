import type { StackApi } from "../api/apiContext.js";
import {
  AttestationNotPostedError,
  AttestationRecordStaleError,
  ConfidentialRequiredError,
  ConfidentialStackUnsupportedError,
  ConfidentialUnsupportedError,
} from "./errors.js";
import { CONFIDENTIAL_LEVEL } from "./stackLevels.js";

/**
 * Which stacks take sealed requests: a node with confidential compute, a stack whose task is at security level 3
 * (its own `acceptsStack` when one was given in code), and, for a level-3 stack, an attestation record on-chain
 * that is this node's latest evidence and still current; a node posting no record at all is refused too, unless
 * `unattestedSealed` was set in code (development, tests). Each refusal has its own code: `confidential_unsupported`
 * (400, no confidential compute), `confidential_stack_unsupported` (400, not a level-3 stack), `attestation_not_posted`
 * (400, no record is ever posted), `attestation_record_stale` (503, missing or expired: the node posts a new one).
 */
export async function checkSealedAccepted(api: StackApi, stackId: bigint): Promise<void> {
  const confidential = api.confidential;
  if (!confidential) throw new ConfidentialUnsupportedError();
  const level = api.stackLevel ? await api.stackLevel(stackId) : undefined;
  if (confidential.gatesStacks) {
    if (!(await confidential.acceptsStack(stackId))) throw new ConfidentialStackUnsupportedError(stackId);
  } else if (level !== undefined && level !== CONFIDENTIAL_LEVEL) {
    throw new ConfidentialStackUnsupportedError(stackId, level);
  }
  if (level !== CONFIDENTIAL_LEVEL) return;
  if (!api.attestation) {
    if (api.unattestedSealed) return;
    throw new AttestationNotPostedError();
  }
  if (!(await api.attestation.current(confidential.epochEvidence))) throw new AttestationRecordStaleError();
}

/** A request in clear on a level-3 stack is refused (`ConfidentialRequiredError`, 400): its task is confidential. */
export async function checkPlainAccepted(api: StackApi, stackId: bigint): Promise<void> {
  if (api.stackLevel && (await api.stackLevel(stackId)) === CONFIDENTIAL_LEVEL)
    throw new ConfidentialRequiredError(stackId);
}
