import type { AtomaReceipt, Hash } from "@atoma/core";

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
   * The inclusion proof as the inclusion check checked it: what a page shows as the answer's proof (fetching it
   * again could show another). Undefined unless `inclusion` passed.
   */
  proof?: CheckedProof | undefined;
  /** What the checks were run against, as given (`stack`, `owner`, `security_level`): what a command repeating them names. */
  asked?: VerifyAsked | undefined;
}

/** The stack, owner and lowest security level a verdict was asked to hold the answer to; each only when given. */
export interface VerifyAsked {
  stackId?: string | undefined;
  owner?: string | undefined;
  securityLevel?: number | undefined;
}

/**
 * A leaf's inclusion proof built only from what was checked: the leaf from the signed receipt, the root and leaf
 * count from the chain, the siblings that lead from one to the other, and the chain and SettlementManager read.
 * Nothing else a node sent (its settlement transaction, keys of its own) is in it.
 */
export interface CheckedProof {
  stack_id: string;
  leaf_index: string;
  leaf: { nonce: string; request_hash: Hash; response_hash: Hash; units: string; cumulative_units: string };
  leaf_hash: Hash;
  leaf_count: string;
  root: Hash;
  proof: Hash[];
  settlement: { chain_id: number; settlement_manager: string };
}

/** Sums the checks into a verdict. */
export function verdictOf(
  checks: Check[],
  settlement: SettlementState | undefined,
  receipt: AtomaReceipt | undefined,
  nodeSlashed?: boolean | undefined,
  proof?: CheckedProof | undefined,
  asked?: VerifyAsked | undefined,
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
    ...(asked !== undefined && { asked }),
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
