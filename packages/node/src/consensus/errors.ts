import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/** The consensus part cannot run: a contract address is missing, or the node's signer is not registered. */
export class ConsensusSetupError extends AtomaError {
  override name = "ConsensusSetupError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("CONSENSUS_SETUP", message, options);
  }
}

/** A request's prompt could not be found on-chain, or what was found does not hash to its recorded hash. */
export class ConsensusPromptError extends AtomaError {
  override name = "ConsensusPromptError";
  constructor(requestId: bigint, reason: string, options?: AtomaErrorOptions) {
    super("CONSENSUS_PROMPT", `request ${requestId}: ${reason}`, options);
  }
}
