import { describe, expect, it } from "vitest";
import { ClientArgumentError } from "../errors.js";
import { checkPreferences, type NodePreferences } from "./nodeChoice.js";

describe("checkPreferences: sort", () => {
  it("takes the gateway's three sorts", () => {
    for (const sort of ["price", "latency", "throughput", undefined] as const)
      expect(() => checkPreferences({ sort })).not.toThrow();
  });

  it("refuses any other sort with ClientArgumentError, before anything is read or bought", () => {
    for (const sort of [
      "fastest",
      "Throughput",
      "throughput ",
      "",
      1,
      null,
      ["throughput"],
      { by: "throughput" },
    ]) {
      const bad = { sort } as unknown as NodePreferences;
      expect(() => checkPreferences(bad)).toThrow(ClientArgumentError);
      expect(() => checkPreferences(bad)).toThrow(
        'preferences.sort must be "price", "latency" or "throughput"',
      );
    }
  });
});
