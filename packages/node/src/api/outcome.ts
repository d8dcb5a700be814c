import { AtomaError } from "@atoma/core";
import { RequestAbortedError } from "@atoma/engine";

/** A bounded metric label for how a request ended. */
export function outcomeOf(error: unknown): string {
  if (error instanceof RequestAbortedError) return "aborted";
  if (error instanceof AtomaError) return error.code.toLowerCase();
  return "internal_error";
}
