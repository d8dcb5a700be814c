import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Collateral } from "@atoma/confidential";

const dir = fileURLToPath(new URL("./fixtures/dcap/", import.meta.url));

/** A real quote (TDX, or SGX for the substitution test) with its collateral (see fixtures/dcap/README.md), and a time inside its window. */
export function tdxFixture(name: "tdx_quote" | "tdx_quote_outdated" | "sgx_quote"): {
  quote: Uint8Array;
  collateral: Collateral;
} {
  return {
    quote: new Uint8Array(readFileSync(`${dir}${name}`)),
    collateral: JSON.parse(readFileSync(`${dir}${name}_collateral.json`, "utf8")) as Collateral,
  };
}

/**
 * Inside tdx_quote's collateral window (2025-06-19T10:16:03Z → 2025-07-19T10:16:03Z), and within a verifier's
 * default bound on the collateral's age (a week since its issue).
 */
export const TDX_INSIDE = new Date("2025-06-21T00:00:00Z");
/** A day past that window. */
export const TDX_AFTER = new Date("2025-07-20T10:16:03Z");
/** Inside tdx_quote_outdated's window (2026-02-18T10:58:51Z → 2026-03-20T10:58:51Z). */
export const OUTDATED_INSIDE = new Date("2026-02-20T00:00:00Z");
/** Inside sgx_quote's window (2025-06-19T10:56:11Z → 2025-07-19T10:56:11Z). */
export const SGX_INSIDE = new Date("2025-07-01T00:00:00Z");
