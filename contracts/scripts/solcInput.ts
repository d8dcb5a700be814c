import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";

const require = createRequire(import.meta.url);

/** Settings shared by the build and by forge's solc wrapper (`forge-solc.mjs`), so both produce the same bytecode. */
export const compilerSettings = JSON.parse(
  readFileSync(new URL("./compilerSettings.json", import.meta.url), "utf8"),
) as {
  evmVersion: string;
  optimizer: { enabled: boolean; runs: number };
  viaIR: boolean;
  metadata: { bytecodeHash: string };
};

export type SourceMap = Record<string, { content: string }>;

/** Every `.sol` file under `dir`, keyed by its path relative to `root` (its solc source unit name). */
export function collectSources(root: string, dir: string): SourceMap {
  const sources: SourceMap = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith(".sol"))
        sources[relative(root, path)] = { content: readFileSync(path, "utf8") };
    }
  };
  walk(dir);
  return sources;
}

/** Resolves imports solc could not find among the given sources: OpenZeppelin and other npm packages. */
export function findImport(path: string): { contents: string } | { error: string } {
  try {
    return { contents: readFileSync(require.resolve(path), "utf8") };
  } catch {
    return { error: `import not found: ${path}` };
  }
}

export function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string })
    .version;
}
