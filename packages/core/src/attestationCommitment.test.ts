import { encodeAbiParameters, type Hash, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { attestationCommitment, attestationResult } from "./attestationCommitment.js";
import { InvalidInputError } from "./errors.js";

const respHashes = [keccak256(toHex("a")), keccak256(toHex("b"))];
const salt = keccak256(toHex("secret"));

describe("attestation commitment", () => {
  it("differs by node, by answer, by units and by salt", () => {
    const result = attestationResult({ respHashes, units: [10n, 20n] });
    const base = attestationCommitment(1n, result, salt);
    expect(attestationCommitment(2n, result, salt)).not.toBe(base);
    expect(
      attestationCommitment(1n, attestationResult({ respHashes, units: [10n, 1_000_000n] }), salt),
    ).not.toBe(base);
    expect(
      attestationCommitment(
        1n,
        attestationResult({ respHashes: [...respHashes].reverse(), units: [10n, 20n] }),
        salt,
      ),
    ).not.toBe(base);
    expect(attestationCommitment(1n, result, keccak256(toHex("other")))).not.toBe(base);
    expect(attestationResult({ respHashes, units: [10n, 21n] })).not.toBe(result);
  });

  it("cannot be tested against the server's claim without the salt (the lazy peer's peek)", () => {
    // The server's claim is computable from the transcript; the old commitment H(nodeId, result) could be checked
    // against it by any peer. The salted one matches neither that nor any guess made without the salt.
    const claim = attestationResult({ respHashes, units: [10n, 20n] });
    const agreeing = attestationCommitment(7n, claim, salt);
    const unsalted = keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [7n, claim]));
    expect(agreeing).not.toBe(unsalted);
    const guesses: Hash[] = [`0x${"00".repeat(32)}`, claim, keccak256(toHex("7"))];
    for (const guess of guesses) expect(attestationCommitment(7n, claim, guess)).not.toBe(agreeing);
  });

  it("needs one unit count per response hash and a 32-byte salt", () => {
    expect(() => attestationResult({ respHashes, units: [1n] })).toThrow(InvalidInputError);
    expect(() => attestationCommitment(1n, respHashes[0]!, "0x01")).toThrow(InvalidInputError);
  });
});
