import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CompiledContract } from "./compile.js";
import { compilerSettings, packageVersion, type SourceMap } from "./solcInput.js";
import type { SolidityEnum } from "./solidityEnums.js";

/**
 * `artifacts/.build.json`, committed with the artifacts: what they were compiled from (`inputs`), what they are
 * (`outputs`, so a hand edit or a half-resolved merge shows), solc's full version and the enums the AST declared.
 */
export interface ArtifactsManifest {
  inputs: string;
  outputs: string;
  solc: string;
  enums: SolidityEnum[];
}

export const MANIFEST_FILE = ".build.json";

/** The one command that brings the committed artifacts back in line with the sources. */
export const REGENERATE_COMMAND = "npm run build -w @atoma/contracts";

/** The scripts whose code shapes the artifacts: a change to one of them regenerates them. */
const SHAPING_SCRIPTS = ["compile.ts", "emit.ts", "enumsModule.ts", "solcInput.ts", "solidityEnums.ts"];

/**
 * A hash of everything the artifacts are made from: solc's and OpenZeppelin's versions, the settings, the scripts
 * that compile and write them, and every source. Cheap (no solc loaded), so a build that has nothing to do is quick.
 */
export function inputsFingerprint(sources: SourceMap, scriptsDir: string): string {
  const hash = createHash("sha256");
  hash.update(`solc ${packageVersion("solc")}\0`);
  hash.update(`@openzeppelin/contracts ${packageVersion("@openzeppelin/contracts")}\0`);
  hash.update(`${JSON.stringify(compilerSettings)}\0`);
  for (const script of SHAPING_SCRIPTS) hash.update(readFileSync(join(scriptsDir, script)));
  for (const name of Object.keys(sources).sort()) hash.update(`${name}\0${sources[name]?.content}\0`);
  return hash.digest("hex");
}

/** The artifact files (`<Name>.json`, not the manifest), by name. */
export function artifactFiles(artifactsDir: string): string[] {
  return readdirSync(artifactsDir)
    .filter((name) => name.endsWith(".json") && !name.startsWith("."))
    .sort();
}

/** A hash of the artifact files as they are on disk and of the enums. */
export function outputsFingerprint(artifactsDir: string, enums: SolidityEnum[]): string {
  const hash = createHash("sha256");
  for (const name of artifactFiles(artifactsDir))
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(artifactsDir, name)))
      .update("\0");
  hash.update(JSON.stringify(enums));
  return hash.digest("hex");
}

/** The manifest, or undefined when it is missing or unreadable (a merge left conflict markers in it). */
export function readManifest(artifactsDir: string): ArtifactsManifest | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(artifactsDir, MANIFEST_FILE), "utf8")) as ArtifactsManifest;
    return typeof manifest.inputs === "string" && Array.isArray(manifest.enums) ? manifest : undefined;
  } catch {
    return undefined;
  }
}

export function writeManifest(artifactsDir: string, manifest: ArtifactsManifest): void {
  writeFileSync(join(artifactsDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The compiled contracts as the artifact files hold them. */
export function readArtifacts(artifactsDir: string): CompiledContract[] {
  return artifactFiles(artifactsDir).map(
    (name) => JSON.parse(readFileSync(join(artifactsDir, name), "utf8")) as CompiledContract,
  );
}
