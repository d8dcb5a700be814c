import { AtomaError } from "@atoma/core";

/** The codes of the confidential client's own errors (beside `SdkErrorCode`: no gateway answers with them). */
export type ConfidentialClientErrorCode =
  | "attestation_refused"
  | "attestation_unavailable"
  | "sealed_answer_invalid";

/**
 * The checks a client runs on a node before sealing a request to it, in order: the evidence fetched for a fresh
 * nonce, its quote (signatures, chain, TCB), the report data binding the node's on-chain signer, the key and the
 * nonce, the GPU token, the nonce spent once; then the chain's record of the node: present and unexpired, for the
 * same key and kind, and its measurement the evidence's and allowed for the stack's task and model.
 */
export type AttestationCheckName =
  | "evidence"
  | "quote"
  | "binding"
  | "gpu"
  | "nonce"
  | "record"
  | "record_key"
  | "measurement";

export interface AttestationCheck {
  name: AttestationCheckName;
  /** `skipped`: nothing to check it against (no GPU evidence); `not_reached`: an earlier check failed. */
  status: "pass" | "fail" | "skipped" | "not_reached";
  /** Set when `status` is `fail`: the failure's stable code (`attestation_report_data_mismatch`, ...). */
  code?: string | undefined;
  /** One line a person reads. */
  reason: string;
}

/** What the client found of the node it sealed to (or refused to). */
export interface AttestationVerdict {
  /** No check failed or went unreached. */
  ok: boolean;
  nodeId: bigint;
  /** The evidence's kind, when it parsed. */
  kind: "tdx" | "dev" | undefined;
  /** Dev evidence: it proves nothing about hardware. */
  insecure: boolean;
  label: "Intel TDX" | "insecure, development" | undefined;
  /** The key requests were sealed to, when the checks passed. */
  encryptionPublicKey: string | undefined;
  /**
   * The check that failed says nothing against the node: its evidence could not be fetched (timeout, connection
   * refused, 408/429/5xx) or the chain's record read. The client skips the node for a while, then asks again.
   */
  transient?: boolean | undefined;
  checks: AttestationCheck[];
  /** The failed checks' codes, in check order. */
  failures: string[];
  checkedAt: Date;
}

/**
 * A node's attestation failed a check: nothing was sealed to it (nor a stack bought from it), and the client puts it
 * aside. When every candidate node was refused, `refused` holds each one's verdict (`verdict` is the first).
 */
export class AttestationRefusedError extends AtomaError<ConfidentialClientErrorCode> {
  override name = "AttestationRefusedError";
  readonly verdict: AttestationVerdict;
  readonly refused: readonly AttestationVerdict[];
  constructor(
    verdict: AttestationVerdict,
    refused: readonly AttestationVerdict[] = [verdict],
    code: ConfidentialClientErrorCode = "attestation_refused",
  ) {
    const line = (v: AttestationVerdict) =>
      `node ${v.nodeId}'s attestation is ${v.transient ? "unavailable for now" : "refused"}: ${v.checks
        .filter((check) => check.status === "fail")
        .map((c) => `${c.name}: ${c.code}: ${c.reason}`)
        .join("; ")}`;
    super(
      code,
      refused.length > 1
        ? `no candidate node passed attestation, nothing was bought: ${refused.map(line).join(" | ")}`
        : line(verdict),
    );
    this.verdict = verdict;
    this.refused = refused;
  }
}

/**
 * No attestation could be had for now (every failure `transient`: the node or the chain did not answer): nothing was
 * sealed nor bought, and the node is not put aside. The client skips it until `retryAt`, then asks it again.
 */
export class AttestationUnavailableError extends AttestationRefusedError {
  override name = "AttestationUnavailableError";
  /** When the first of these nodes is asked again (unset when no retry is scheduled yet). */
  readonly retryAt: Date | undefined;
  constructor(
    verdict: AttestationVerdict,
    unavailable: readonly AttestationVerdict[] = [verdict],
    retryAt?: Date,
  ) {
    super(verdict, unavailable, "attestation_unavailable");
    this.retryAt = retryAt;
  }
}

/**
 * A node's answer to a sealed request that is not a sealed answer that opens in order: in clear, a chunk dropped,
 * reordered, repeated, changed, or a stream cut before its final chunk. `failure` names which.
 */
export class SealedAnswerError extends AtomaError<ConfidentialClientErrorCode> {
  override name = "SealedAnswerError";
  readonly failure: string;
  constructor(failure: string, message: string, options?: { cause?: unknown }) {
    super("sealed_answer_invalid", message, options);
    this.failure = failure;
  }
}

/** One line: the kind's label and `attested`, or `NOT attested` with the failed checks' codes. */
export function attestationLine(verdict: AttestationVerdict): string {
  const head = verdict.ok ? "attested" : `NOT attested: ${verdict.failures.join(", ")}`;
  return `${head}; node ${verdict.nodeId}${verdict.label ? `; ${verdict.label}` : ""}`;
}
