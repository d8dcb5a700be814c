import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../errors.js";
import { evidenceHash, measurementHash } from "./attestationRecord.js";
import { buildAttestationVectors } from "./attestationVectorCases.js";

const committed = JSON.parse(
  readFileSync(new URL("../../vectors/attestation.json", import.meta.url), "utf8"),
);

describe("attestation record encodings", () => {
  it("are what the committed vectors hold (regenerate with npm run vectors:attestation -w @atoma/core)", () => {
    expect(buildAttestationVectors()).toEqual(committed);
  });

  it("tell a dev document from TDX evidence reporting the same registers", () => {
    const [tdx, dev] = committed.measurements;
    expect(tdx.registers).toEqual(dev.registers);
    expect(tdx.hash).not.toBe(dev.hash);
    expect(measurementHash("dev", tdx.registers)).toBe(dev.hash);
  });

  it("change with any one register, so an allow-list entry names one exact stack", () => {
    const { registers, hash } = committed.measurements[0];
    for (const name of ["mrTd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"] as const) {
      const flipped = `${registers[name].slice(0, -1)}${registers[name].endsWith("0") ? "1" : "0"}`;
      expect(measurementHash("tdx", { ...registers, [name]: flipped })).not.toBe(hash);
    }
  });

  it("refuse registers of the wrong size, an empty or oversized quote and an unknown kind", () => {
    const { registers } = committed.measurements[0];
    expect(() => measurementHash("tdx", { ...registers, rtmr3: "0x1234" })).toThrow(InvalidInputError);
    expect(() => evidenceHash("tdx", "0x")).toThrow(InvalidInputError);
    expect(() => evidenceHash("tdx", `0x${"00".repeat(64 * 1024 + 1)}`)).toThrow(InvalidInputError);
    expect(() => evidenceHash("sgx" as "tdx", "0x01")).toThrow(InvalidInputError);
  });
});
