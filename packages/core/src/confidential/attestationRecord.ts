import { concat, type Hex, isHex, keccak256, size, stringToBytes } from "viem";
import { InvalidInputError } from "../errors.js";
import type { Hash } from "../hash.js";

/** The kinds of attestation evidence, numbered as `AttestationRegistry.Kind` (0 is "none"). */
export const AttestationKind = { tdx: 1, dev: 2 } as const;
export type AttestationKindName = keyof typeof AttestationKind;

/** A trust domain's launch measurement (MRTD) and its four runtime measurement registers, 48 bytes each. */
export interface MeasurementRegisters {
  mrTd: Hex;
  rtmr0: Hex;
  rtmr1: Hex;
  rtmr2: Hex;
  rtmr3: Hex;
}

const MEASUREMENT_TAG = keccak256(stringToBytes("AtomaMeasurement"));
const EVIDENCE_TAG = keccak256(stringToBytes("AtomaEvidence"));
const REGISTER_BYTES = 48;
/** The largest quote hashed here: a TDX quote with its certification data is a few KiB. */
export const MAX_QUOTE_BYTES = 64 * 1024;

const kindByte = (kind: AttestationKindName): Hex => {
  const value = AttestationKind[kind];
  if (value === undefined) throw new InvalidInputError(`unknown attestation kind ${String(kind)}`);
  return `0x0${value}`;
};

function register(value: Hex, name: string): Hex {
  if (!isHex(value, { strict: true }) || size(value) !== REGISTER_BYTES)
    throw new InvalidInputError(`${name} must be ${REGISTER_BYTES} bytes of hex`);
  return value.toLowerCase() as Hex;
}

/**
 * The measurement the chain's allow-list names (`AttestationRecord.measurementHash` in the contracts):
 * keccak256(keccak256("AtomaMeasurement") ‖ kind byte ‖ MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3). Every register is
 * in it, so governance allows one exact software stack; the kind is in it, so a dev document reporting the same
 * registers never passes for TDX.
 */
export function measurementHash(kind: AttestationKindName, registers: MeasurementRegisters): Hash {
  return keccak256(
    concat([
      MEASUREMENT_TAG,
      kindByte(kind),
      register(registers.mrTd, "MRTD"),
      register(registers.rtmr0, "RTMR0"),
      register(registers.rtmr1, "RTMR1"),
      register(registers.rtmr2, "RTMR2"),
      register(registers.rtmr3, "RTMR3"),
    ]),
  );
}

/**
 * The evidence hash a node posts on-chain (`AttestationRecord.evidenceHash`): keccak256(keccak256("AtomaEvidence")
 * ‖ kind byte ‖ quote). The quote carries the report data that binds the signing address, the encryption key and
 * the epoch, so a client that fetched the evidence checks it is the one the chain holds.
 */
export function evidenceHash(kind: AttestationKindName, quote: Hex): Hash {
  if (!isHex(quote, { strict: true }) || size(quote) === 0 || size(quote) > MAX_QUOTE_BYTES)
    throw new InvalidInputError(`the quote must be 1 to ${MAX_QUOTE_BYTES} bytes of hex`);
  return keccak256(concat([EVIDENCE_TAG, kindByte(kind), quote]));
}
