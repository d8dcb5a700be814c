import { AtomaError } from "@atoma/core";
import { BaseError } from "viem";

/** An error's code and short message: never a payload, nor an RPC URL from a transport error's details. */
export function describeError(error: unknown): string {
  if (error instanceof AtomaError) return `${error.code}: ${error.shortMessage}`;
  if (error instanceof BaseError) return `${error.name}: ${error.shortMessage}`;
  return error instanceof Error ? error.name : "unknown error";
}
