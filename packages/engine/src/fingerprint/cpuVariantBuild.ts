import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FingerprintUnavailableError } from "./errors.js";

/** A copy of node-llama-cpp whose ggml CPU backend can only pick among the given instruction-set variants. */
export interface CpuVariantBuild {
  /** The variants left in its bins folder (`sse42`, `haswell`, … and `x64`, the baseline). */
  variants: string[];
  /** `import()` this instead of "node-llama-cpp" (in another process: one process holds one llama.cpp). */
  nodeLlamaCppUrl: string;
  dir: string;
  /** Deletes the copy. */
  dispose(): void;
}

const PLATFORM_PACKAGE = "@node-llama-cpp/linux-x64";
const CPU_BACKEND = /^libggml-cpu-(.+)\.so$/;

/** The CPU backend variants the installed linux-x64 binary ships (ggml loads the best one the CPU runs). */
export function installedCpuVariants(): string[] {
  return readdirSync(binsDir(platformPackageDir(nodeLlamaCppDir())))
    .map((file) => CPU_BACKEND.exec(file)?.[1])
    .filter((variant): variant is string => variant !== undefined)
    .sort();
}

/**
 * Makes a second llama.cpp "machine" on this host: real copies of node-llama-cpp and its linux-x64 binary in a
 * temporary `node_modules` (every other package linked back to the installed one), with only `variants` of
 * ggml's CPU backend left, so llama.cpp computes with those instruction sets. For measurements and tests; never
 * for serving.
 */
export function prepareCpuVariantBuild(
  variants: readonly string[],
  options: { parentDir?: string | undefined } = {},
): CpuVariantBuild {
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new FingerprintUnavailableError(
      `CPU variant builds are made from ${PLATFORM_PACKAGE}; this is ${process.platform}-${process.arch}`,
    );
  const installed = installedCpuVariants();
  const unknown = variants.filter((variant) => !installed.includes(variant));
  if (unknown.length > 0 || variants.length === 0)
    throw new FingerprintUnavailableError(
      `unknown CPU variants ${unknown.join(", ") || "(none given)"}; installed: ${installed.join(", ")}`,
    );
  const original = nodeLlamaCppDir();
  const originalModules = dirname(original);
  const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), "atoma-cpu-variant-"));
  try {
    const modules = join(dir, "node_modules");
    mkdirSync(join(modules, "@node-llama-cpp"), { recursive: true });
    for (const entry of readdirSync(originalModules)) {
      if (entry === "node-llama-cpp" || entry === "@node-llama-cpp" || entry.startsWith(".")) continue;
      symlinkSync(join(originalModules, entry), join(modules, entry));
    }
    // The llama.cpp source bundle (34 MB) is only used to build from source, which a variant build never does.
    cpSync(original, join(modules, "node-llama-cpp"), {
      recursive: true,
      dereference: true,
      filter: (source) => basename(source) !== "gitRelease.bundle",
    });
    const platform = platformPackageDir(original);
    cpSync(platform, join(modules, PLATFORM_PACKAGE), {
      recursive: true,
      dereference: true,
      filter: (source) => {
        const variant = CPU_BACKEND.exec(basename(source))?.[1];
        return variant === undefined || variants.includes(variant);
      },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    variants: [...variants],
    nodeLlamaCppUrl: pathToFileURL(join(dir, "node_modules", "node-llama-cpp", "dist", "index.js")).href,
    dir,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The installed node-llama-cpp package folder. */
function nodeLlamaCppDir(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
  while (basename(dir) !== "node-llama-cpp") {
    const parent = dirname(dir);
    if (parent === dir) throw new FingerprintUnavailableError("cannot find the installed node-llama-cpp");
    dir = parent;
  }
  return dir;
}

/** Where node-llama-cpp finds its linux-x64 binary: its own node_modules, or one above it. */
function platformPackageDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate =
      basename(dir) === "node_modules"
        ? join(dir, PLATFORM_PACKAGE)
        : join(dir, "node_modules", PLATFORM_PACKAGE);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir)
      throw new FingerprintUnavailableError(
        `${PLATFORM_PACKAGE} is not installed (needed for CPU variant builds)`,
      );
  }
}

function binsDir(platformPackage: string): string {
  return join(platformPackage, "bins", "linux-x64");
}
