import type { Hex } from "viem";
import type { Ballot } from "./voteDispute.js";

/** A ballot as stored text: JSON with each unit count as a decimal string (JSON has no bigint). */
export function ballotToText(ballot: Ballot): string {
  return JSON.stringify({ ...ballot, units: ballot.units.map(String) });
}

/** Parses `ballotToText`'s form back into a ballot, units as bigints, so it reveals and shows what was sealed. */
export function ballotFromText(text: string): Ballot {
  const parsed = JSON.parse(text) as Omit<Ballot, "units"> & { units: string[] };
  return {
    claim: parsed.claim,
    work: parsed.work,
    outputs: [...parsed.outputs] as Hex[],
    respHashes: [...parsed.respHashes],
    units: parsed.units.map((unit) => BigInt(unit)),
    works: [...parsed.works],
  };
}
