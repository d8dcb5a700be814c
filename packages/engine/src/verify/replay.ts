import type { GenerationEnd, GenerationOutcome } from "../embedded/generate.js";
import type { Claim } from "./claim.js";

/** Where a claim first departs from the recomputation. */
export type ReplayDifference =
  | { field: "tokens"; index: number; expected: number | null; claimed: number | null }
  | { field: "text"; index: number; expected: string | null; claimed: string | null }
  | { field: "finish_reason"; expected: GenerationEnd; claimed: GenerationEnd | null }
  | { field: "completion_tokens"; expected: number; claimed: number };

export interface ReplayResult {
  match: boolean;
  /** The first difference, when there is one. */
  difference?: ReplayDifference | undefined;
  /** What the recomputation produced. */
  expected: { text: string; tokenIds: number[]; finishReason: GenerationEnd; completionTokens: number };
}

/** Compares a fresh generation of the request with the claim. */
export function replay(outcome: GenerationOutcome, claim: Claim): ReplayResult {
  const expected = {
    text: outcome.text,
    tokenIds: outcome.completionTokens,
    finishReason: outcome.finishReason,
    completionTokens: outcome.completionTokens.length,
  };
  return { ...compare(expected, claim), expected };
}

function compare(
  expected: ReplayResult["expected"],
  claim: Claim,
): { match: boolean; difference?: ReplayDifference } {
  if (claim.tokenIds !== undefined) {
    const index = firstDifference(expected.tokenIds, claim.tokenIds);
    if (index !== -1)
      return {
        match: false,
        difference: {
          field: "tokens",
          index,
          expected: expected.tokenIds[index] ?? null,
          claimed: claim.tokenIds[index] ?? null,
        },
      };
  }
  if (claim.text !== undefined) {
    const expectedChars = [...expected.text];
    const claimedChars = [...claim.text];
    const index = firstDifference(expectedChars, claimedChars);
    if (index !== -1)
      return {
        match: false,
        difference: {
          field: "text",
          index,
          expected: expectedChars[index] ?? null,
          claimed: claimedChars[index] ?? null,
        },
      };
  }
  if (claim.finishReason !== undefined && claim.finishReason !== expected.finishReason)
    return {
      match: false,
      difference: { field: "finish_reason", expected: expected.finishReason, claimed: claim.finishReason },
    };
  if (claim.completionTokens !== undefined && claim.completionTokens !== expected.completionTokens)
    return {
      match: false,
      difference: {
        field: "completion_tokens",
        expected: expected.completionTokens,
        claimed: claim.completionTokens,
      },
    };
  return { match: true };
}

function firstDifference<T>(expected: readonly T[], claimed: readonly T[]): number {
  const length = Math.min(expected.length, claimed.length);
  for (let i = 0; i < length; i++) if (expected[i] !== claimed[i]) return i;
  return expected.length === claimed.length ? -1 : length;
}
