import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Builds the explorer only when something it is made of changed: its own sources and configuration, the lockfile,
 * and the built output of the workspace packages it bundles. A warm `npm start` then skips the type checks and the
 * Vite build, which are most of its build time.
 */
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

function fingerprint(): string {
  const hash = createHash("sha256");
  const inputs = [
    ...OWN_INPUTS.map((name) => join(appDir, name)),
    join(repoRoot, "package-lock.json"),
    ...bundledWorkspaceDirs().map((dir) => join(dir, "dist")),
  ];
  for (const file of inputs.flatMap(filesUnder)) {
    hash.update(`${relative(repoRoot, file)}\0`);
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: appDir, stdio: "inherit" });
}

const force = process.argv.includes("--force");
const stamp = fingerprint();
const upToDate =
  existsSync(stampFile) &&
  existsSync(join(distDir, "index.html")) &&
  readFileSync(stampFile, "utf8") === stamp;
if (force || !upToDate) {
  const bin = (name: string) => join(repoRoot, "node_modules", ".bin", name);
  try {
    run(bin("tsgo"), ["-p", "tsconfig.json", "--noEmit"]);
    run(bin("tsgo"), ["-p", "tsconfig.node.json", "--noEmit"]);
    run(bin("vite"), ["build", "--logLevel", "warn"]);
    writeFileSync(stampFile, stamp);
  } catch {
    // The failing tool has printed its own diagnostics.
    process.exitCode = 1;
  }
}
