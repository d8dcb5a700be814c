import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compilerSettings } from "./solcInput.js";

const wrapper = fileURLToPath(new URL("./forge-solc.mjs", import.meta.url));
const foundryToml = readFileSync(new URL("../foundry.toml", import.meta.url), "utf8");

describe("forge's solc wrapper", () => {
  it("answers --version the way forge parses it", () => {
    const run = spawnSync(process.execPath, [wrapper, "--version"], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Version: 0\.8\.\d+\+commit\.[0-9a-f]{8}/m);
  });

  it("compiles standard JSON from stdin with the build's settings, whatever forge asked for", () => {
    const input = {
      language: "Solidity",
      sources: {
        "A.sol": {
          content:
            "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract A { function f() external pure returns (uint256) { return 7; } }",
        },
      },
      settings: {
        evmVersion: "london",
        optimizer: { enabled: false },
        outputSelection: { "*": { "*": ["evm.bytecode.object", "metadata"] } },
      },
    };
    const run = spawnSync(process.execPath, [wrapper, "--standard-json"], {
      input: JSON.stringify(input),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(run.status).toBe(0);
    const output = JSON.parse(run.stdout) as { contracts: { "A.sol": { A: { metadata: string } } } };
    const metadata = JSON.parse(output.contracts["A.sol"].A.metadata) as {
      settings: { evmVersion: string; optimizer: { enabled: boolean; runs: number } };
    };
    expect(metadata.settings.evmVersion).toBe(compilerSettings.evmVersion);
    expect(metadata.settings.optimizer).toEqual(compilerSettings.optimizer);
  });

  it("is what foundry.toml points at, with the same settings repeated for forge's cache", () => {
    expect(foundryToml).toMatch(/^solc = "scripts\/forge-solc\.mjs"$/m);
    expect(foundryToml).toContain(`evm_version = "${compilerSettings.evmVersion}"`);
    expect(foundryToml).toContain(`optimizer_runs = ${compilerSettings.optimizer.runs}`);
  });
});
