import type { AtomaReceipt, LeafProof } from "@atoma/core";

/** How one check came out: `not_checked` when the caller did not give what it needs (the request body). */
export type CheckStatus = "pass" | "fail" | "pending" | "not_checked";

/**
 * The checks `verifyResponse` runs, in the order it reports them; `owner`, `task` and `security_level` only when
 * the owner, the request's model and a level are given; `replay` is added by a gateway client (no receipt passed
 * twice).
 */
export type CheckName =
  | "receipt"
  | "response_hash"
  | "request_hash"
  | "signature"
  | "signer"
  | "stack"
  | "owner"
  | "task"
  | "security_level"
  | "replay"
  | "inclusion"
  | "settlement";

/** The stable code of each way a check can fail. */
export type VerifyFailureCode =
  | "receipt_malformed"
  | "response_hash_mismatch"
  | "unsigned_fields"
  | "request_hash_mismatch"
  | "signature_invalid"
  | "signer_not_registered"
  | "stack_unknown"
  | "stack_mismatch"
  | "owner_mismatch"
  | "node_mismatch"
  | "model_mismatch"
  | "security_level_low"
  | "receipt_replayed"
  | "leaf_not_settled"
  | "proof_unavailable"
  | "proof_leaf_mismatch"
  | "root_mismatch"
  | "proof_invalid"
  | "settlement_failed"
  | "node_slashed";

export interface Check {
  name: CheckName;
  status: CheckStatus;
  /** Set when `status` is `fail`. */
  code?: VerifyFailureCode | undefined;
  /** One line a person reads: why it holds, fails or waits. */
  reason: string;
}

/**
 * Where the stack's settlement stands on-chain: `unsettled` (no root yet), `attesting` (sampled, attesters at work),
 * `attested` (accepted, its challenge window open), `disputed`, `finalized` (paid), `failed` (not paid), or
 * `node_slashed` (the serving node lost its stake, whatever the phase).
 */
export type SettlementState =
  | "unsettled"
  | "attesting"
  | "attested"
  | "disputed"
  | "finalized"
  | "failed"
  | "node_slashed";

/** The result of `verifyResponse`: every check by name, and the sums a caller branches on. */
export interface Verdict {
  /** No check failed (some may still be pending or not checked). */
  ok: boolean;
  /** No check failed and none is pending or not checked. */
  complete: boolean;
  checks: Check[];
  /** The failed checks' codes, in check order. */
  failures: VerifyFailureCode[];
  /** Undefined when the chain could not say (the receipt was malformed). */
  settlement: SettlementState | undefined;
  /** The receipt as parsed, when it parsed. */
  receipt: AtomaReceipt | undefined;
  /**
   * The serving node is slashed now (information, not a check: a slash after this answer's settlement finalized may be
   * for something else and leaves the answer verified). Undefined when the chain was not read.
   */
  nodeSlashed?: boolean | undefined;
  /**
   * The node's proof the inclusion check passed with, as it was checked: what a page shows as the answer's inclusion
   * proof (fetching it again could show another). Undefined unless `inclusion` passed.
   */
  proof?: LeafProof | undefined;
}

/** Sums the checks into a verdict. */
export function verdictOf(
  checks: Check[],
  settlement: SettlementState | undefined,
  receipt: AtomaReceipt | undefined,
  nodeSlashed?: boolean | undefined,
  proof?: LeafProof | undefined,
): Verdict {
  const failures = checks.flatMap((check) => (check.status === "fail" && check.code ? [check.code] : []));
  return {
    ok: checks.every((check) => check.status !== "fail"),
    complete: checks.every((check) => check.status === "pass"),
    checks,
    failures,
    settlement,
    receipt,
    ...(nodeSlashed !== undefined && { nodeSlashed }),
    ...(proof !== undefined &&
      checks.some((check) => check.name === "inclusion" && check.status === "pass") && { proof }),
  };
}

/** One line: `verified` or `NOT verified`, with the failed codes and what is pending. */
export function verdictLine(verdict: Verdict): string {
  const pending = verdict.checks.filter((c) => c.status === "pending").map((c) => c.name);
  const unchecked = verdict.checks.filter((c) => c.status === "not_checked").map((c) => c.name);
  const parts = [verdict.ok ? "verified" : `NOT verified: ${verdict.failures.join(", ")}`];
  if (verdict.settlement !== undefined) parts.push(`settlement ${verdict.settlement}`);
  if (pending.length > 0) parts.push(`pending ${pending.join(", ")}`);
  if (unchecked.length > 0) parts.push(`not checked ${unchecked.join(", ")}`);
  if (verdict.nodeSlashed === true && verdict.settlement !== "node_slashed")
    parts.push("the node is slashed now");
  return parts.join("; ");
}
