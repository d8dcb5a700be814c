import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ArtifactsManifest,
  inputsFingerprint,
  outputsFingerprint,
  readArtifacts,
  readManifest,
  writeManifest,
} from "./artifactsManifest.js";
import type { CompiledContract } from "./compile.js";
import { emitArtifacts, emitGenerated } from "./emit.js";
import { collectSources } from "./solcInput.js";

/** These scripts: the ones that shape the artifacts are part of their fingerprint. */
const scriptsDir = dirname(fileURLToPath(import.meta.url));

/** EIP-170: the largest runtime code a contract may deploy. */
const MAX_RUNTIME_BYTES = 24_576;

export interface BuildContractsOptions {
  /** The contracts package: `src/` holds the sources, `artifacts/` and `generated/` are written. */
  root: string;
  /** Recompile even when the artifacts match the sources. @default false */
  force?: boolean | undefined;
}

export type BuildContractsResult =
  /** The artifacts and the typed modules matched the sources: nothing written. */
  | { action: "current" }
  /** The artifacts matched the sources (a fresh clone): the typed modules were written from them, solc not run. */
  | { action: "emitted" }
  /** The sources changed since the artifacts were made (or `force`): solc ran and both were rewritten. */
  | { action: "compiled"; contracts: number; solc: string; seconds: number; warnings: string[] }
  /** solc refused the sources, or a contract is over EIP-170's limit: nothing written. */
  | { action: "failed"; diagnostics: string[] };

/**
 * Brings `artifacts/` (committed) and `generated/` (the typed modules the package compiles) in line with the
 * Solidity sources. solc-js runs only when the sources, the compiler, its settings or these scripts differ from what
 * `artifacts/.build.json` records, or when the artifacts on disk are not the ones it records.
 */
export async function buildContracts(options: BuildContractsOptions): Promise<BuildContractsResult> {
  const { root, force = false } = options;
  const artifactsDir = join(root, "artifacts");
  const generatedDir = join(root, "generated");
  const sources = collectSources(root, join(root, "src"));
  const inputs = inputsFingerprint(sources, scriptsDir);
  const manifest = readManifest(artifactsDir);
  if (
    !force &&
    manifest?.inputs === inputs &&
    manifest.outputs === outputsFingerprint(artifactsDir, manifest.enums)
  )
    return emitIfStale(manifest, artifactsDir, generatedDir);

  const started = performance.now();
  // Loaded only here: solc-js takes about a second to load, which a build with nothing to do should not pay.
  const { compileSources, SolidityCompileError } = await import("./compile.js");
  const solc = (await import("solc")).default;
  let compiled: ReturnType<typeof compileSources>;
  try {
    compiled = compileSources(sources, "contracts/");
  } catch (error) {
    if (error instanceof SolidityCompileError) return { action: "failed", diagnostics: error.diagnostics };
    throw error;
  }
  const tooBig = oversized(compiled.contracts);
  if (tooBig.length > 0) return { action: "failed", diagnostics: tooBig };
  emitArtifacts(compiled.contracts, artifactsDir);
  const made: ArtifactsManifest = {
    inputs,
    outputs: outputsFingerprint(artifactsDir, compiled.enums),
    solc: solc.version(),
    enums: compiled.enums,
  };
  writeManifest(artifactsDir, made);
  writeGenerated(made, compiled.contracts, generatedDir);
  return {
    action: "compiled",
    contracts: compiled.contracts.length,
    solc: made.solc,
    seconds: (performance.now() - started) / 1000,
    warnings: compiled.warnings,
  };
}

/** `generated/.build-hash`: which artifacts the typed modules were written from. */
const generatedStamp = (generatedDir: string) => join(generatedDir, ".build-hash");
const stampOf = (manifest: ArtifactsManifest) => `${manifest.inputs}:${manifest.outputs}`;

function emitIfStale(
  manifest: ArtifactsManifest,
  artifactsDir: string,
  generatedDir: string,
): BuildContractsResult {
  const stamp = generatedStamp(generatedDir);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === stampOf(manifest)) return { action: "current" };
  writeGenerated(manifest, readArtifacts(artifactsDir), generatedDir);
  return { action: "emitted" };
}

function writeGenerated(
  manifest: ArtifactsManifest,
  contracts: CompiledContract[],
  generatedDir: string,
): void {
  emitGenerated(contracts, manifest.enums, generatedDir);
  writeFileSync(generatedStamp(generatedDir), stampOf(manifest));
}

function oversized(contracts: CompiledContract[]): string[] {
  return contracts
    .filter((c) => !c.sourceName.startsWith("src/test/"))
    .map((c) => ({ name: c.name, bytes: (c.deployedBytecode.length - 2) / 2 }))
    .filter((c) => c.bytes > MAX_RUNTIME_BYTES)
    .map((c) => `${c.name}: ${c.bytes} bytes of runtime code, over EIP-170's limit of ${MAX_RUNTIME_BYTES}`);
}
