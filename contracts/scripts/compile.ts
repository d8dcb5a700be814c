import solc from "solc";
import { compilerSettings, findImport, type SourceMap } from "./solcInput.js";
import { type AstNode, enumsOf, type SolidityEnum } from "./solidityEnums.js";

export interface CompiledContract {
  name: string;
  sourceName: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
}

interface SolcError {
  severity: "error" | "warning" | "info";
  type: string;
  message: string;
  formattedMessage?: string;
  sourceLocation?: { file: string; start: number; end: number };
}

interface SolcOutput {
  errors?: SolcError[];
  sources?: Record<string, { ast: AstNode }>;
  contracts?: Record<
    string,
    Record<
      string,
      { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
    >
  >;
}

export class SolidityCompileError extends Error {
  readonly code = "solidity_compile_failed";
  constructor(readonly diagnostics: string[]) {
    super(`solc reported ${diagnostics.length} error(s):\n${diagnostics.join("\n")}`);
    this.name = "SolidityCompileError";
  }
}

/** `file:line:col: message`, the form editors and terminals link to. */
export function describeDiagnostic(error: SolcError, sources: SourceMap, prefix: string): string {
  const location = error.sourceLocation;
  const content = location ? sources[location.file]?.content : undefined;
  if (!location || content === undefined || location.start < 0) return `${error.type}: ${error.message}`;
  const before = content.slice(0, location.start);
  const line = before.split("\n").length;
  const column = location.start - before.lastIndexOf("\n");
  return `${prefix}${location.file}:${line}:${column}: ${error.type}: ${error.message}`;
}

export function compileSources(
  sources: SourceMap,
  prefix = "",
): { contracts: CompiledContract[]; enums: SolidityEnum[]; warnings: string[] } {
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...compilerSettings,
      outputSelection: {
        "*": { "": ["ast"], "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((e) => e.severity === "error");
  if (errors.length > 0)
    throw new SolidityCompileError(errors.map((e) => describeDiagnostic(e, sources, prefix)));
  const warnings = diagnostics
    .filter((e) => e.severity === "warning")
    .map((e) => describeDiagnostic(e, sources, prefix));
  const contracts: CompiledContract[] = [];
  for (const [sourceName, byName] of Object.entries(output.contracts ?? {})) {
    if (!(sourceName in sources)) continue;
    for (const [name, contract] of Object.entries(byName)) {
      contracts.push({
        name,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      });
    }
  }
  const enums = Object.entries(output.sources ?? {})
    .filter(([sourceName]) => sourceName in sources)
    .flatMap(([sourceName, { ast }]) => enumsOf(sourceName, ast));
  return { contracts, enums, warnings };
}
