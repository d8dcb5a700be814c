import { fromHex, type HexString, toHex } from "./bytes.js";
import { UnknownMeasurementError } from "./errors.js";

/** A trust domain's launch measurement and its four runtime measurement registers, 48 bytes each. */
export interface TdMeasurements {
  mrTd: HexString;
  rtmr0: HexString;
  rtmr1: HexString;
  rtmr2: HexString;
  rtmr3: HexString;
}

/**
 * One approved software stack. MRTD is always compared; each RTMR only when the entry names it (RTMR3 is often
 * extended at run time by the application itself, so governance may leave it open).
 */
export interface AllowedMeasurement {
  label?: string;
  mrTd: HexString;
  rtmr0?: HexString;
  rtmr1?: HexString;
  rtmr2?: HexString;
  rtmr3?: HexString;
}

export const MEASUREMENT_BYTES = 48;
const REGISTERS = ["rtmr0", "rtmr1", "rtmr2", "rtmr3"] as const;

const norm = (value: string, what: string) => toHex(fromHex(value, what, MEASUREMENT_BYTES));

function matches(measured: TdMeasurements, entry: AllowedMeasurement): boolean {
  if (norm(entry.mrTd, "allow-list MRTD") !== norm(measured.mrTd, "MRTD")) return false;
  return REGISTERS.every((register) => {
    const wanted = entry[register];
    return (
      wanted === undefined || norm(wanted, `allow-list ${register}`) === norm(measured[register], register)
    );
  });
}

/** Returns the first allow-list entry the measurements match; throws `UnknownMeasurementError` when none does. */
export function checkMeasurements(
  measured: TdMeasurements,
  allowList: readonly AllowedMeasurement[],
): AllowedMeasurement {
  const entry = allowList.find((candidate) => matches(measured, candidate));
  if (!entry)
    throw new UnknownMeasurementError("the enclave's measurements match no entry of the allow-list", {
      details: `MRTD ${measured.mrTd}`,
    });
  return entry;
}

export function measurementsFromBytes(registers: {
  mrTd: Uint8Array;
  rtMr0: Uint8Array;
  rtMr1: Uint8Array;
  rtMr2: Uint8Array;
  rtMr3: Uint8Array;
}): TdMeasurements {
  return {
    mrTd: toHex(registers.mrTd),
    rtmr0: toHex(registers.rtMr0),
    rtmr1: toHex(registers.rtMr1),
    rtmr2: toHex(registers.rtMr2),
    rtmr3: toHex(registers.rtMr3),
  };
}
