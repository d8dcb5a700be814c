import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { vrfVerify } from "./ecvrf.js";
import { buildVrfVectors } from "./vrfVectorCases.js";

describe("shared VRF vectors", () => {
  const committed = JSON.parse(readFileSync(new URL("../../vectors/vrf.json", import.meta.url), "utf8"));

  it("are what the current code produces (regenerate with npm run vectors:vrf -w @atoma/core)", () => {
    expect(buildVrfVectors()).toEqual(committed);
  });

  it("verify, and a proof verifies for its own case only", () => {
    const proofs = committed.proofs as {
      publicKey: `0x${string}`;
      alpha: `0x${string}`;
      proof: `0x${string}`;
      beta: string;
    }[];
    for (const [i, v] of proofs.entries()) {
      expect(vrfVerify(v.publicKey, v.alpha, v.proof)).toBe(v.beta);
      const other = proofs[(i + 1) % proofs.length];
      if (other) expect(() => vrfVerify(v.publicKey, v.alpha, other.proof)).toThrow();
    }
  });
});
