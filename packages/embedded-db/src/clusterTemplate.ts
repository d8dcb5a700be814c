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

/** True when the cluster is now in the cache file. */
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

const made = new Map<string, Promise<Blob>>();

/**
 * An initialised, empty cluster to unpack a new database from: read from `cacheDir`, else made once (one initdb,
 * in memory) and written there for the next run. Databases opening at once share one; once it is in the cache
 * file the process lets go of it (40 MB a long-running node would otherwise hold), and the next opener reads the
 * file again.
 */
export function clusterTemplate(cacheDir: string): Promise<Blob> {
  let template = made.get(cacheDir);
  if (!template) {
    const making = (async () => {
      const file = templateFile(cacheDir);
      const cached = readCached(file);
      if (cached) return { cluster: cached, onDisk: true };
      const cluster = await initialisedCluster();
      return { cluster, onDisk: await writeCached(file, cacheDir, cluster) };
    })();
    template = making.then(({ cluster }) => cluster);
    made.set(cacheDir, template);
    const mine = template;
    making.then(
      ({ onDisk }) => onDisk && made.get(cacheDir) === mine && made.delete(cacheDir),
      () => made.get(cacheDir) === mine && made.delete(cacheDir),
    );
  }
  return template;
}

/** Lets the next `clusterTemplate` call read the cache again (after `dropTemplate`). */
export function forgetTemplate(cacheDir: string): void {
  made.delete(cacheDir);
}
