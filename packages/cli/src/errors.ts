import { ContractRevertError } from "@atoma/chain";
import { AtomaError } from "@atoma/core";
import type { CliErrorCode } from "./errorCodes.js";

/**
 * The one line a failing command prints: the short message of an Atoma error followed by its code (spelled as the
 * wire and the logs spell it, for scripts and searches), or the message of any other.
 */
export function oneLineMessage(error: unknown): string {
  // A revert names the contract's custom error with its arguments, which say what to change.
  if (error instanceof ContractRevertError)
    return `${error.functionName} reverted with ${error.details ?? error.errorName} (${error.code})`;
  if (error instanceof AtomaError) return `${error.shortMessage} (${error.code})`;
  if (error instanceof Error) return error.message.split("\n")[0] ?? "unknown error";
  return String(error);
}

export class CliUsageError extends AtomaError<CliErrorCode> {
  override name = "CliUsageError";
  constructor(message: string) {
    super("cli_usage", message);
  }
}

/**
 * One of `atoma chat`'s store files (receipts, pending requests, nodes put aside, audit) is there and does not read:
 * refused, and left as it is, never taken for empty and overwritten (the owner's evidence is in it).
 */
export class ChatStoreUnreadableError extends AtomaError<CliErrorCode> {
  override name = "ChatStoreUnreadableError";
  constructor(
    readonly what: string,
    readonly file: string,
    reason: string,
  ) {
    super(
      "chat_store_unreadable",
      `the ${what} file ${file} is refused: ${reason}; atoma leaves it as it is (restore it, or move it aside to start afresh)`,
    );
  }
}

/** A task exists for another model than the one this node serves. */
export class TaskModelMismatchError extends AtomaError<CliErrorCode> {
  override name = "TaskModelMismatchError";
  constructor(taskId: bigint, modelName: string) {
    super("task_model_mismatch", `task ${taskId} is not a task of model "${modelName}" (model.id)`);
  }
}

/** No task has this id. */
export class UnknownTaskError extends AtomaError<CliErrorCode> {
  override name = "UnknownTaskError";
  constructor(taskId: bigint) {
    super("unknown_task", `there is no task ${taskId}`);
  }
}

/** Registration in an echelon governance has not approved (the registry would refuse it). */
export class EchelonNotApprovedError extends AtomaError<CliErrorCode> {
  override name = "EchelonNotApprovedError";
  constructor(echelon: number) {
    super(
      "echelon_not_approved",
      `echelon ${echelon} is not approved on this chain: register in an echelon approved for this node's fingerprint (\`atoma node fingerprint\`)`,
    );
  }
}

function isoTime(unixSeconds: bigint): string {
  return new Date(Number(unixSeconds) * 1000).toISOString();
}

/** Leaving a task completes only when its exit notice is over. */
export class ExitNoticeRunningError extends AtomaError<CliErrorCode> {
  override name = "ExitNoticeRunningError";
  constructor(taskId: bigint, exitAt: bigint) {
    super(
      "exit_notice_running",
      `the exit notice of task ${taskId} runs until ${isoTime(exitAt)}: the node stays a checking candidate with its bond until then; complete the exit after it`,
    );
  }
}

/**
 * A deregistered node's collateral stays the exit notice after deregistration and after its last obligation, and
 * for a node that ever took a confidential task the refund window (`REFUND_EPOCHS`) after them as well.
 */
export class WithdrawalTooEarlyError extends AtomaError<CliErrorCode> {
  override name = "WithdrawalTooEarlyError";
  constructor(nodeId: bigint, withdrawableAt: bigint) {
    super(
      "withdrawal_too_early",
      `the collateral of node ${nodeId} is withdrawable from ${isoTime(withdrawableAt)} (the exit notice after deregistering and after its last obligation; for a node that ever took a confidential task, the refund window after them too)`,
    );
  }
}

/** Deregistering needs every task exit complete. */
export class SubscriptionsLeftError extends AtomaError<CliErrorCode> {
  override name = "SubscriptionsLeftError";
  constructor(nodeId: bigint) {
    super(
      "subscriptions_left",
      `node ${nodeId} still holds task subscriptions: leave each (atoma node unsubscribe --task N), then complete each exit after its notice (--complete), then deregister`,
    );
  }
}

/** A dev node did not post its attestation record in time: it cannot join the level-3 task. */
export class DevNodeUnattestedError extends AtomaError<CliErrorCode> {
  override name = "DevNodeUnattestedError";
  constructor(nodeId: bigint, seconds: number) {
    super(
      "dev_node_unattested",
      `dev node ${nodeId} posted no attestation record of its evidence within ${seconds} s: see its log`,
    );
  }
}

export { isoTime };
