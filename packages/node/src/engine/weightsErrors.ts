import { AtomaError } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** The served model has no registration in the ModelRegistry, so no client can buy a stack of it. */
export class ModelNotRegisteredError extends AtomaError<NodeErrorCode> {
  override name = "ModelNotRegisteredError";
  constructor(
    readonly modelName: string,
    readonly modelId: string,
  ) {
    super("model_not_registered", `model "${modelName}" (${modelId}) is not registered in the ModelRegistry`);
  }
}

/** The model is registered but may not be served (disabled after mismatch reports, or retired). */
export class ModelNotActiveError extends AtomaError<NodeErrorCode> {
  override name = "ModelNotActiveError";
  constructor(
    readonly modelName: string,
    readonly status: string,
  ) {
    super("model_not_active", `model "${modelName}" is ${status} in the ModelRegistry; refusing to serve it`);
  }
}

/** The model file's weights root differs from the root the ModelRegistry holds for the model. */
export class RegisteredWeightsMismatchError extends AtomaError<NodeErrorCode> {
  override name = "RegisteredWeightsMismatchError";
  constructor(
    readonly modelName: string,
    readonly registeredRoot: string,
    readonly localRoot: string,
  ) {
    super(
      "registered_weights_mismatch",
      `model "${modelName}": the file's weights root is ${localRoot} but ${registeredRoot} is registered on-chain; refusing to serve it`,
    );
  }
}
