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

/** A command needs the node's on-chain id, but no node is registered with its key. */
export class NodeNotRegisteredError extends AtomaError {
  override name = "NodeNotRegisteredError";
  constructor(address: string) {
    super(
      "NODE_NOT_REGISTERED",
      `no node is registered with the key ${address}; run atoma node register first`,
    );
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
