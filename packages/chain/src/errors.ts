import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

export class AnvilStartError extends AtomaError {
  override name = "AnvilStartError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("ANVIL_START_FAILED", message, options);
  }
}

export class DeploymentError extends AtomaError {
  override name = "DeploymentError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("DEPLOYMENT_FAILED", message, options);
  }
}
