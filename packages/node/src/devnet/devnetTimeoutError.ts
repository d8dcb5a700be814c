import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** Something a dev network's helper waits for did not happen in time. */
export class DevnetTimeoutError extends AtomaError<NodeErrorCode> {
  override name = "DevnetTimeoutError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("devnet_timeout", message, options);
  }
}
