import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MANIFEST_FILE } from "./artifactsManifest.js";
import { buildContracts } from "./buildContracts.js";

const counter = (value: number) => `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Counter {
    enum Mode { Off, On }
    function start() external pure returns (uint256) { return ${value}; }
}`;

let root: string;
const write = (path: string, text: string) => writeFileSync(join(root, path), text);
const read = (path: string) => readFileSync(join(root, path), "utf8");
const artifact = () => JSON.parse(read("artifacts/Counter.json")) as { bytecode: string };

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "atoma-contracts-build-"));
  mkdirSync(join(root, "src"));
  write("src/Counter.sol", counter(7));
  expect((await buildContracts({ root })).action).toBe("compiled");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("buildContracts", () => {
  it("does nothing when the artifacts and the typed modules match the sources", async () => {
    const before = read("generated/index.ts");
    expect(await buildContracts({ root })).toEqual({ action: "current" });
    expect(read("generated/index.ts")).toBe(before);
  });

  it("writes the typed modules of a fresh clone from the committed artifacts, without solc", async () => {
    const generated = ["index.ts", "Counter.ts", "enums.ts"].map((file) => read(`generated/${file}`));
    rmSync(join(root, "generated"), { recursive: true });
    expect(await buildContracts({ root })).toEqual({ action: "emitted" });
    expect(["index.ts", "Counter.ts", "enums.ts"].map((file) => read(`generated/${file}`))).toEqual(
      generated,
    );
    expect(read("generated/enums.ts")).toContain("CounterMode");
  });

  it("recompiles when a source changed but its artifacts were not regenerated", async () => {
    const stale = artifact().bytecode;
    write("src/Counter.sol", counter(8));
    expect((await buildContracts({ root })).action).toBe("compiled");
    expect(artifact().bytecode).not.toBe(stale);
  });

  it("recompiles over an artifact edited by hand", async () => {
    const honest = artifact().bytecode;
    const forged = { ...artifact(), bytecode: "0x00" };
    write("artifacts/Counter.json", `${JSON.stringify(forged, null, 2)}\n`);
    expect((await buildContracts({ root })).action).toBe("compiled");
    expect(artifact().bytecode).toBe(honest);
  });

  it("recompiles over a manifest a merge left conflict markers in", async () => {
    const manifest = read(`artifacts/${MANIFEST_FILE}`);
    write(`artifacts/${MANIFEST_FILE}`, `<<<<<<< ours\n${manifest}=======\n${manifest}>>>>>>> theirs\n`);
    expect((await buildContracts({ root })).action).toBe("compiled");
    expect(JSON.parse(read(`artifacts/${MANIFEST_FILE}`))).toEqual(JSON.parse(manifest));
  });

  it("keeps the last good artifacts when solc refuses a source", async () => {
    const good = read("artifacts/Counter.json");
    write("src/Counter.sol", counter(7).replace("return 7;", "return missing;"));
    const result = await buildContracts({ root });
    expect(result.action).toBe("failed");
    expect(result.action === "failed" && result.diagnostics[0]).toMatch(/Undeclared identifier/);
    expect(read("artifacts/Counter.json")).toBe(good);
  });
});
