import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(appDir, "..", "..");
const distDir = join(appDir, "dist");
const stampFile = join(distDir, ".build-hash");
const OWN_INPUTS = [
  "src",
  "scripts",
  "index.html",
  "vite.config.ts",
  "tsconfig.json",
  "tsconfig.node.json",
  "package.json",
];

interface Workspace {
  dir: string;
  dependencies: string[];
}

function readManifest(dir: string): { name: string; dependencies: string[] } {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    dependencies?: Record<string, string>;
  };
  return { name: manifest.name, dependencies: Object.keys(manifest.dependencies ?? {}) };
}

function workspaces(): Map<string, Workspace> {
  const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] };
  const found = new Map<string, Workspace>();
  for (const entry of root.workspaces) {
    const dirs = entry.endsWith("/*")
      ? readdirSync(join(repoRoot, entry.slice(0, -2))).map((name) =>
          join(repoRoot, entry.slice(0, -2), name),
        )
      : [join(repoRoot, entry)];
    for (const dir of dirs) {
      if (!existsSync(join(dir, "package.json"))) continue;
      const { name, dependencies } = readManifest(dir);
      found.set(name, { dir, dependencies });
    }
  }
  return found;
}

/** The workspace packages the explorer bundles, followed through their own dependencies. */
function bundledWorkspaceDirs(): string[] {
  const all = workspaces();
  const seen = new Set<string>();
  const pending = [...readManifest(appDir).dependencies];
  while (pending.length > 0) {
    const name = pending.pop() as string;
    const workspace = all.get(name);
    if (workspace === undefined || seen.has(name)) continue;
    seen.add(name);
    pending.push(...workspace.dependencies);
  }
  return [...seen].map((name) => (all.get(name) as Workspace).dir).sort();
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => filesUnder(join(path, entry.name)));
}

/**
 * A hash of the explorer's own inputs and of the files of the bundled packages' output that `endings` name: their
 * JavaScript for the bundle, with their declarations for the type check (not their source maps and build info,
 * which change when only tsgo's own check ran).
 */
function fingerprint(endings: string[]): string {
  const hash = createHash("sha256");
  const inputs = [...OWN_INPUTS.map((name) => join(appDir, name)), join(repoRoot, "package-lock.json")];
  const bundled = bundledWorkspaceDirs().flatMap((dir) =>
    filesUnder(join(dir, "dist")).filter((file) => endings.some((ending) => file.endsWith(ending))),
  );
  for (const file of [...inputs.flatMap(filesUnder), ...bundled]) {
    hash.update(`${relative(repoRoot, file)}\0`);
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** `dist/.build-hash`: the bundle's fingerprint, and the type check's when the check ran on what was bundled. */
interface Stamp {
  bundle: string;
  check?: string | undefined;
}

function readStamp(): Stamp | undefined {
  if (!existsSync(join(distDir, "index.html"))) return undefined;
  try {
    return JSON.parse(readFileSync(stampFile, "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: appDir, stdio: "inherit" });
}

export interface BuildExplorerOptions {
  /** Rebuild even when nothing changed. @default false */
  force?: boolean | undefined;
  /**
   * Type-check the app and its scripts before bundling. `npm start` leaves the check to `npm run build` and
   * `npm test`: a bundle built unchecked is marked so, and the next checked build checks it without bundling again.
   * @default true
   */
  check?: boolean | undefined;
}

/**
 * Builds the explorer only when something it is made of changed: its own sources and configuration, the lockfile,
 * and the JavaScript of the workspace packages it bundles. Returns false when a type check or Vite failed (the
 * failing tool has printed its own diagnostics).
 */
export function buildExplorer(options: BuildExplorerOptions = {}): boolean {
  const { force = false, check = true } = options;
  const built = force ? undefined : readStamp();
  const bundle = fingerprint([".js"]);
  const bundled = built?.bundle === bundle;
  const typed = check ? fingerprint([".js", ".d.ts"]) : undefined;
  const checked = bundled && typed !== undefined && built?.check === typed;
  const bin = (name: string) => join(repoRoot, "node_modules", ".bin", name);
  try {
    if (typed !== undefined && !checked) {
      run(bin("tsgo"), ["-p", "tsconfig.json", "--noEmit"]);
      run(bin("tsgo"), ["-p", "tsconfig.node.json", "--noEmit"]);
    }
    if (!bundled) run(bin("vite"), ["build", "--logLevel", "warn"]);
    if (!bundled || (typed !== undefined && !checked)) {
      const stamp: Stamp = { bundle, check: typed ?? (bundled ? built?.check : undefined) };
      writeFileSync(stampFile, `${JSON.stringify(stamp)}\n`);
    }
    return true;
  } catch {
    return false;
  }
}
