import type { StackApi } from "../api/apiContext.js";
import {
  AttestationUnavailableError,
  ConfidentialRequiredError,
  ConfidentialUnsupportedError,
} from "./errors.js";
import { CONFIDENTIAL_LEVEL } from "./stackLevels.js";

/**
 * Which stacks take sealed requests: a node with confidential compute, a stack whose task is at security level 3
 * (its own `acceptsStack` when one was given in code), and, for a level-3 stack, an attestation record on-chain
 * that is this node's latest evidence and still current; a node posting no record at all is refused too, unless
 * `unattestedSealed` was set in code (development, tests). Throws `ConfidentialUnsupportedError` (400) or
 * `AttestationUnavailableError` (503, the record is missing or expired: the node posts a new one and retries).
 */
export async function checkSealedAccepted(api: StackApi, stackId: bigint): Promise<void> {
  const confidential = api.confidential;
  if (!confidential) throw new ConfidentialUnsupportedError();
  const level = api.stackLevel ? await api.stackLevel(stackId) : undefined;
  if (confidential.gatesStacks) {
    if (!(await confidential.acceptsStack(stackId))) throw new ConfidentialUnsupportedError();
  } else if (level !== undefined && level !== CONFIDENTIAL_LEVEL) {
    throw new ConfidentialUnsupportedError(
      `stack ${stackId} belongs to a task at security level ${level}: sealed requests go to level-3 (confidential) stacks only`,
    );
  }
  if (level !== CONFIDENTIAL_LEVEL) return;
  if (!api.attestation) {
    if (api.unattestedSealed) return;
    throw new AttestationUnavailableError(
      "this node posts no attestation record (no AttestationRegistry configured): it takes no sealed requests for level-3 stacks",
    );
  }
  if (!(await api.attestation.current(confidential.epochEvidence)))
    throw new AttestationUnavailableError(
      "this node's attestation record on-chain is missing or expired: it takes no sealed requests until it posts a current one",
    );
}

/** A request in clear on a level-3 stack is refused (`ConfidentialRequiredError`, 400): its task is confidential. */
export async function checkPlainAccepted(api: StackApi, stackId: bigint): Promise<void> {
  if (api.stackLevel && (await api.stackLevel(stackId)) === CONFIDENTIAL_LEVEL)
    throw new ConfidentialRequiredError(stackId);
}
