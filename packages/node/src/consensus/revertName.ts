import { ContractRevertError } from "@atoma/chain";

/** The contract's custom error name when `error` is a decoded revert. */
export function revertName(error: unknown): string | undefined {
  return error instanceof ContractRevertError ? error.errorName : undefined;
}
