import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";

const require = createRequire(import.meta.url);

/** Where the initialised cluster is kept between runs: `ATOMA_CACHE_DIR`, else the XDG cache directory. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ATOMA_CACHE_DIR) return env.ATOMA_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "atoma");
}

/** PGlite's version, from its package.json (which the package does not export): its entry lives in `dist/`. */
function pgliteVersion(): string {
  const manifest = join(dirname(require.resolve("@electric-sql/pglite")), "..", "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

/** The cache file for this PGlite version: a cluster from another version's initdb is never unpacked. */
export function templateFile(cacheDir: string): string {
  return join(cacheDir, `pglite-${pgliteVersion()}-cluster.tar`);
}

/** A freshly initialised cluster (initdb's output, no tables), as the tarball PGlite's `loadDataDir` takes. */
async function initialisedCluster(): Promise<Blob> {
  const scratch = new PGlite();
  try {
    await scratch.waitReady;
    return await scratch.dumpDataDir("none");
  } finally {
    await scratch.close();
  }
}

function readCached(file: string): Blob | undefined {
  try {
    return new Blob([readFileSync(file)]);
  } catch {
    return undefined;
  }
}

/** Writes the cluster to the cache; false when the cache cannot keep it. */
async function writeCached(file: string, cacheDir: string, cluster: Blob): Promise<boolean> {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, new Uint8Array(await cluster.arrayBuffer()), { mode: 0o600 });
    renameSync(partial, file);
    return true;
  } catch {
    // An unwritable cache only costs the next run an initdb.
    return false;
  }
}

/** Forgets a cached cluster PGlite could not unpack, so the next database is initialised afresh. */
export function dropTemplate(cacheDir: string): void {
  rmSync(templateFile(cacheDir), { force: true });
}

/** Templates being read or made, by cache directory. */
const making = new Map<string, Promise<Blob>>();
/**
 * Templates made or read, by cache directory: weakly when the cache file holds them (reading it again is cheap,
 * and a gateway that opened its database must not keep 40 MB of tarball for good), strongly when it could not.
 */
const kept = new Map<string, WeakRef<Blob> | Blob>();

/**
 * An initialised, empty cluster to unpack a new database from: read from `cacheDir`, else made once (one initdb,
 * in memory) and written there for the next run. One per process and cache directory while in use, however many
 * databases open at once.
 */
export function clusterTemplate(cacheDir: string): Promise<Blob> {
  const held = kept.get(cacheDir);
  const blob = held instanceof WeakRef ? held.deref() : held;
  if (blob) return Promise.resolve(blob);
  let template = making.get(cacheDir);
  if (!template) {
    template = (async () => {
      const file = templateFile(cacheDir);
      const cached = readCached(file);
      if (cached) {
        kept.set(cacheDir, new WeakRef(cached));
        return cached;
      }
      const cluster = await initialisedCluster();
      const written = await writeCached(file, cacheDir, cluster);
      kept.set(cacheDir, written ? new WeakRef(cluster) : cluster);
      return cluster;
    })().finally(() => making.delete(cacheDir));
    making.set(cacheDir, template);
  }
  return template;
}

/** Lets the next `clusterTemplate` call read the cache again (after `dropTemplate`). */
export function forgetTemplate(cacheDir: string): void {
  kept.delete(cacheDir);
  making.delete(cacheDir);
}
