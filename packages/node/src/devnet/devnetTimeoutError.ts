import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/** Something a dev network's helper waits for did not happen in time. */
export class DevnetTimeoutError extends AtomaError {
  override name = "DevnetTimeoutError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("DEVNET_TIMEOUT", message, options);
  }
}
