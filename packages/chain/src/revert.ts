import { artifacts } from "@atoma/contracts";
import { type Abi, BaseError, decodeErrorResult, type Hex, isHex } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;

/** Every custom error of every Atoma contract (and OpenZeppelin's they inherit), to decode any revert. */
export const atomaErrorsAbi: Abi = (() => {
  const seen = new Set<string>();
  const errors: AbiError[] = [];
  for (const { abi } of Object.values(artifacts)) {
    for (const item of abi as Abi) {
      if (item.type !== "error") continue;
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(item);
    }
  }
  return errors;
})();

export interface DecodedRevert {
  /** The Solidity custom error's name, or "Error"/"Panic" for require strings and panics. */
  errorName: string;
  args: readonly unknown[];
}

function revertData(error: unknown): Hex | undefined {
  let found: Hex | undefined;
  const inspect = (e: unknown) => {
    if (found || typeof e !== "object" || e === null) return;
    const candidate = e as { raw?: unknown; data?: unknown };
    for (const value of [
      candidate.raw,
      candidate.data,
      (candidate.data as { data?: unknown } | undefined)?.data,
    ]) {
      if (typeof value === "string" && isHex(value) && value.length >= 10) {
        found = value;
        return;
      }
    }
  };
  if (error instanceof BaseError) {
    error.walk((e) => {
      inspect(e);
      return false;
    });
  }
  let current: unknown = error;
  for (let depth = 0; current && depth < 10 && !found; depth++) {
    inspect(current);
    current = (current as { cause?: unknown }).cause;
  }
  return found;
}

/** The custom error a failed call or transaction reverted with, when its data can be found and decoded. */
export function decodeRevert(error: unknown): DecodedRevert | undefined {
  if (error instanceof BaseError) {
    const reverted = error.walk(
      (e) => (e as { data?: { errorName?: unknown } }).data?.errorName !== undefined,
    ) as { data?: { errorName: string; args?: readonly unknown[] } } | null;
    if (reverted?.data) return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] };
  }
  const data = revertData(error);
  if (!data) return undefined;
  try {
    const decoded = decodeErrorResult({ abi: atomaErrorsAbi, data });
    return { errorName: decoded.errorName, args: (decoded.args ?? []) as readonly unknown[] };
  } catch {
    return undefined;
  }
}

/** One line naming the revert, for error details. */
export function describeRevert(error: unknown): string | undefined {
  const decoded = decodeRevert(error);
  if (!decoded) return error instanceof BaseError ? error.shortMessage : undefined;
  const args = decoded.args.map((a) => (typeof a === "bigint" ? a.toString() : JSON.stringify(a))).join(", ");
  return `${decoded.errorName}(${args})`;
}
