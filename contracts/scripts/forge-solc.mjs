#!/usr/bin/env node
// forge's `solc`: answers `--version` and compiles `--standard-json` from stdin with solc-js, so forge runs
// offline (it cannot download a compiler here). The compiler settings are forced to compilerSettings.json, the
// ones the build uses, so forge tests run the bytecode that ships.
import { existsSync, readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(import.meta.url);
const solc = require("solc");

function writeAll(fd, text) {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
}

// forge names sources by path relative to the project (`../node_modules/...`, `src/...`); npm package paths
// (`@openzeppelin/...`) resolve through Node's resolution.
function findImport(path) {
  for (const candidate of [() => resolve(path), () => require.resolve(path)]) {
    try {
      const file = candidate();
      if (existsSync(file)) return { contents: readFileSync(file, "utf8") };
    } catch {
      // try the next way of resolving
    }
  }
  return { error: `import not found: ${path}` };
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  const input = JSON.parse(readFileSync(0, "utf8"));
  const forced = JSON.parse(readFileSync(new URL("./compilerSettings.json", import.meta.url), "utf8"));
  input.settings = {
    ...input.settings,
    ...forced,
    metadata: { ...input.settings?.metadata, ...forced.metadata },
  };
  writeAll(1, solc.compile(JSON.stringify(input), { import: findImport }));
} else {
  writeAll(2, `forge-solc: unsupported arguments ${args.join(" ")}\n`);
  process.exitCode = 2;
}
