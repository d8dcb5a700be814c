import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildVectors } from "./vectorCases.js";

describe("shared encoding vectors", () => {
  it("are what the current code produces (regenerate with npm run vectors -w @atoma/core)", async () => {
    const committed = JSON.parse(readFileSync(new URL("../vectors/encodings.json", import.meta.url), "utf8"));
    expect(JSON.parse(JSON.stringify(await buildVectors()))).toEqual(committed);
  });
});
