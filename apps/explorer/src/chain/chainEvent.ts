import type { Address, Hex } from "viem";
import type { WatchedContract } from "./abis.js";

/** One decoded contract event, in chain order. */
export interface ChainEvent {
  contract: WatchedContract;
  name: string;
  args: Record<string, unknown>;
  block: bigint;
  tx: Hex;
  logIndex: number;
  address: Address;
}

/** Reads an argument as a bigint (numbers and bigints both appear in decoded events). */
export function big(event: ChainEvent, key: string): bigint {
  const value = event.args[key];
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  return 0n;
}

export function bigs(event: ChainEvent, key: string): bigint[] {
  const value = event.args[key];
  return Array.isArray(value) ? value.map((v) => BigInt(v as bigint)) : [];
}

export const named = (events: readonly ChainEvent[], ...names: string[]) =>
  events.filter((event) => names.includes(event.name));
