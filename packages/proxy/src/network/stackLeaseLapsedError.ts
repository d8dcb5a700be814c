import { NoNodeAvailableError } from "../errors.js";

/**
 * The gateway's hold of a stack lapsed (not renewed for its length, or found another gateway's) while a request was
 * using it: nothing more is signed on it from here (review M1), the request is refused and may be retried.
 */
export class StackLeaseLapsedError extends NoNodeAvailableError {
  override name = "StackLeaseLapsedError";
  constructor(stackId: bigint) {
    super(`the gateway's hold of stack ${stackId} lapsed: nothing more is signed on it here`, 1);
  }
}
