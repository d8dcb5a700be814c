import { ContractRevertError } from "@atoma/chain";
import { AtomaError } from "@atoma/core";

/** The one line a failing command prints: the short message of an Atoma error, or the message of any other. */
export function oneLineMessage(error: unknown): string {
  // A revert names the contract's custom error with its arguments, which say what to change.
  if (error instanceof ContractRevertError)
    return `${error.functionName} reverted with ${error.details ?? error.errorName}`;
  if (error instanceof AtomaError) return error.shortMessage;
  if (error instanceof Error) return error.message.split("\n")[0] ?? "unknown error";
  return String(error);
}

export class CliUsageError extends AtomaError {
  override name = "CliUsageError";
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}

/** A task exists for another model than the one this node serves. */
export class TaskModelMismatchError extends AtomaError {
  override name = "TaskModelMismatchError";
  constructor(taskId: bigint, modelName: string) {
    super("TASK_MODEL_MISMATCH", `task ${taskId} is not a task of model "${modelName}" (model.id)`);
  }
}

/** No task has this id. */
export class UnknownTaskError extends AtomaError {
  override name = "UnknownTaskError";
  constructor(taskId: bigint) {
    super("UNKNOWN_TASK", `there is no task ${taskId}`);
  }
}

/** Registration in an echelon governance has not approved (the registry would refuse it). */
export class EchelonNotApprovedError extends AtomaError {
  override name = "EchelonNotApprovedError";
  constructor(echelon: number) {
    super(
      "ECHELON_NOT_APPROVED",
      `echelon ${echelon} is not approved on this chain: register in an echelon approved for this node's fingerprint (\`atoma node fingerprint\`)`,
    );
  }
}

function isoTime(unixSeconds: bigint): string {
  return new Date(Number(unixSeconds) * 1000).toISOString();
}

/** Leaving a task completes only when its exit notice is over. */
export class ExitNoticeRunningError extends AtomaError {
  override name = "ExitNoticeRunningError";
  constructor(taskId: bigint, exitAt: bigint) {
    super(
      "EXIT_NOTICE_RUNNING",
      `the exit notice of task ${taskId} runs until ${isoTime(exitAt)}: the node stays a checking candidate with its bond until then; complete the exit after it`,
    );
  }
}

/** A deregistered node's collateral stays the exit notice after deregistration and after its last obligation. */
export class WithdrawalTooEarlyError extends AtomaError {
  override name = "WithdrawalTooEarlyError";
  constructor(nodeId: bigint, withdrawableAt: bigint) {
    super(
      "WITHDRAWAL_TOO_EARLY",
      `the collateral of node ${nodeId} is withdrawable from ${isoTime(withdrawableAt)} (the exit notice after deregistering and after its last obligation)`,
    );
  }
}

/** Deregistering needs every task exit complete. */
export class SubscriptionsLeftError extends AtomaError {
  override name = "SubscriptionsLeftError";
  constructor(nodeId: bigint) {
    super(
      "SUBSCRIPTIONS_LEFT",
      `node ${nodeId} still holds task subscriptions: leave each (atoma node unsubscribe --task N), then complete each exit after its notice (--complete), then deregister`,
    );
  }
}

export { isoTime };
