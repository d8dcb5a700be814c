import { formatEther } from "viem";

/** TOMA with at most four decimals, for tables. */
export function toma(value: bigint): string {
  const [whole, fraction = ""] = formatEther(value).split(".");
  const kept = fraction.slice(0, 4).replace(/0+$/, "");
  return kept ? `${whole}.${kept}` : (whole ?? "0");
}

export const nodeStatusName = (status: number) =>
  ["none", "active", "deregistered", "slashed"][status] ?? `status ${status}`;
