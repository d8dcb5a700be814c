import { type Hex, keccak256, stringToBytes, toHex } from "viem";
import {
  AttestationKind,
  type AttestationKindName,
  evidenceHash,
  type MeasurementRegisters,
  measurementHash,
} from "./attestationRecord.js";

/** 48 bytes derived from a public string: test registers, not a real software stack. */
const registerFrom = (seed: string): Hex =>
  `0x${keccak256(stringToBytes(seed)).slice(2)}${keccak256(stringToBytes(`${seed}+`)).slice(2, 34)}`;

const registers = (seed: string): MeasurementRegisters => ({
  mrTd: registerFrom(`${seed}/mrtd`),
  rtmr0: registerFrom(`${seed}/rtmr0`),
  rtmr1: registerFrom(`${seed}/rtmr1`),
  rtmr2: registerFrom(`${seed}/rtmr2`),
  rtmr3: registerFrom(`${seed}/rtmr3`),
});

const kinds: AttestationKindName[] = ["tdx", "dev"];

/**
 * The vectors of packages/core/vectors/attestation.json, checked by attestationRecord.test.ts and by
 * contracts/test/AttestationVectors.t.sol, so the chain's allow-list and the client's hashes cannot drift apart.
 */
export function buildAttestationVectors() {
  return {
    description:
      "Attestation record encodings shared by core (TypeScript) and contracts (Solidity). Regenerate with `npm run vectors:attestation -w @atoma/core`.",
    measurements: ["stack-a", "stack-b"].flatMap((seed) =>
      kinds.map((kind) => ({
        kind,
        kindId: AttestationKind[kind],
        registers: registers(seed),
        hash: measurementHash(kind, registers(seed)),
      })),
    ),
    evidence: [toHex(stringToBytes("a quote")), registerFrom("a longer quote")].flatMap((quote) =>
      kinds.map((kind) => ({ kind, kindId: AttestationKind[kind], quote, hash: evidenceHash(kind, quote) })),
    ),
  };
}
