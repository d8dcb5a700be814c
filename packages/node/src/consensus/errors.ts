import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** A request's prompt could not be found on-chain, or what was found does not hash to its recorded hash. */
export class ConsensusPromptError extends AtomaError<NodeErrorCode> {
  override name = "ConsensusPromptError";
  constructor(requestId: bigint, reason: string, options?: AtomaErrorOptions) {
    super("consensus_prompt", `request ${requestId}: ${reason}`, options);
  }
}

/** A request's task names a model this node does not serve: it cannot compute the request (its operator
 * subscribed it to the wrong task). The duty is given up at once. */
export class ConsensusModelMismatchError extends AtomaError<NodeErrorCode> {
  override name = "ConsensusModelMismatchError";
  constructor(taskId: bigint, served: string, options?: AtomaErrorOptions) {
    super(
      "consensus_model_mismatch",
      `task ${taskId} is not for the model this node serves (${served})`,
      options,
    );
  }
}
