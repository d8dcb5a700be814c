import { AtomaError } from "@atoma/core";

/** The served model has no registration in the ModelRegistry, so no client can buy a stack of it. */
export class ModelNotRegisteredError extends AtomaError {
  override name = "ModelNotRegisteredError";
  constructor(
    readonly modelName: string,
    readonly modelId: string,
  ) {
    super("MODEL_NOT_REGISTERED", `model "${modelName}" (${modelId}) is not registered in the ModelRegistry`);
  }
}

/** The model is registered but may not be served (disabled after mismatch reports, or retired). */
export class ModelNotActiveError extends AtomaError {
  override name = "ModelNotActiveError";
  constructor(
    readonly modelName: string,
    readonly status: string,
  ) {
    super("MODEL_NOT_ACTIVE", `model "${modelName}" is ${status} in the ModelRegistry; refusing to serve it`);
  }
}

/** The model file's weights root differs from the root the ModelRegistry holds for the model. */
export class RegisteredWeightsMismatchError extends AtomaError {
  override name = "RegisteredWeightsMismatchError";
  constructor(
    readonly modelName: string,
    readonly registeredRoot: string,
    readonly localRoot: string,
  ) {
    super(
      "REGISTERED_WEIGHTS_MISMATCH",
      `model "${modelName}": the file's weights root is ${localRoot} but ${registeredRoot} is registered on-chain; refusing to serve it`,
    );
  }
}
