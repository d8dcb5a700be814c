import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { attestationCommitment, attestationResult } from "./attestationCommitment.js";
import { InvalidInputError } from "./errors.js";

const respHashes = [keccak256(toHex("a")), keccak256(toHex("b"))];

describe("attestation commitment", () => {
  it("differs by node, by answer and by units", () => {
    const base = attestationCommitment(1n, { respHashes, units: [10n, 20n] });
    expect(attestationCommitment(2n, { respHashes, units: [10n, 20n] })).not.toBe(base);
    expect(attestationCommitment(1n, { respHashes, units: [10n, 1_000_000n] })).not.toBe(base);
    expect(attestationCommitment(1n, { respHashes: [...respHashes].reverse(), units: [10n, 20n] })).not.toBe(
      base,
    );
    expect(attestationResult({ respHashes, units: [10n, 21n] })).not.toBe(
      attestationResult({ respHashes, units: [10n, 20n] }),
    );
  });

  it("needs one unit count per response hash", () => {
    expect(() => attestationCommitment(1n, { respHashes, units: [1n] })).toThrow(InvalidInputError);
  });
});
