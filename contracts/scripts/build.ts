import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";
import { type CompiledContract, compileSources, SolidityCompileError } from "./compile.js";
import { emitArtifacts } from "./emit.js";
import { collectSources, compilerSettings, packageVersion } from "./solcInput.js";

/** EIP-170: the largest runtime code a contract may deploy. */
const MAX_RUNTIME_BYTES = 24_576;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const artifactsDir = join(root, "artifacts");
const generatedDir = join(root, "generated");
const stampFile = join(artifactsDir, ".build-hash");

function fingerprint(sources: Record<string, { content: string }>): string {
  const hash = createHash("sha256");
  hash.update(solc.version());
  hash.update(packageVersion("@openzeppelin/contracts"));
  hash.update(JSON.stringify(compilerSettings));
  for (const script of ["compile.ts", "emit.ts", "enumsModule.ts", "solidityEnums.ts"])
    hash.update(readFileSync(join(root, "scripts", script)));
  for (const [name, { content }] of Object.entries(sources)) hash.update(`${name}\0${content}\0`);
  return hash.digest("hex");
}

function oversized(contracts: CompiledContract[]): string[] {
  return contracts
    .filter((c) => !c.sourceName.startsWith("src/test/"))
    .map((c) => ({ name: c.name, bytes: (c.deployedBytecode.length - 2) / 2 }))
    .filter((c) => c.bytes > MAX_RUNTIME_BYTES)
    .map((c) => `${c.name}: ${c.bytes} bytes of runtime code (limit ${MAX_RUNTIME_BYTES})`);
}

function main(): number {
  const force = process.argv.includes("--force");
  const sources = collectSources(root, join(root, "src"));
  const stamp = fingerprint(sources);
  const upToDate =
    existsSync(stampFile) &&
    existsSync(join(generatedDir, "index.ts")) &&
    readFileSync(stampFile, "utf8") === stamp;
  if (upToDate && !force) return 0;
  const started = performance.now();
  try {
    const { contracts, enums, warnings } = compileSources(sources, "contracts/");
    // solc warns about every use of transient storage; OpenZeppelin's ReentrancyGuardTransient clears its slot at
    // the end of each guarded call, the use the warning itself names as safe.
    for (const warning of warnings.filter((w) => !w.includes("Transient storage as defined by EIP-1153")))
      console.error(`warning: ${warning}`);
    const tooBig = oversized(contracts);
    if (tooBig.length > 0) {
      console.error(`contracts over the EIP-170 size limit:\n${tooBig.join("\n")}`);
      return 1;
    }
    emitArtifacts(contracts, enums, artifactsDir, generatedDir);
    writeFileSync(stampFile, stamp);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(
      `contracts: compiled ${contracts.length} contracts with solc ${solc.version()} in ${seconds} s`,
    );
    return 0;
  } catch (error) {
    if (error instanceof SolidityCompileError) {
      console.error(error.diagnostics.join("\n"));
      return 1;
    }
    throw error;
  }
}

process.exitCode = main();
