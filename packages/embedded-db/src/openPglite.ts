import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { clusterTemplate, defaultCacheDir, dropTemplate, forgetTemplate } from "./clusterTemplate.js";
import { unpackCluster } from "./unpackCluster.js";

export interface OpenPgliteOptions extends Omit<PGliteOptions, "dataDir" | "loadDataDir" | "startParams"> {
  /** Where the initialised cluster is cached between runs. @default defaultCacheDir() */
  cacheDir?: string | undefined;
  /** PostgreSQL settings (`shared_buffers: "16MB"`), added to PGlite's own start parameters. @default {} */
  settings?: Readonly<Record<string, string>> | undefined;
}

/**
 * Opens (creating when new) the embedded PostgreSQL whose data lives in `dir`, ready for queries. A new database is
 * unpacked from an initialised cluster rather than initialised by initdb, which is most of a fresh PGlite's start;
 * a cached cluster that cannot be unpacked or opened is dropped and the database initialised the usual way. The
 * cluster is unpacked by Node, not PGlite's `loadDataDir`: that would grow PGlite's WebAssembly memory (which never
 * shrinks) by the archive, and take a close and a second start to give it back.
 */
export async function openPglite(dir: string, options: OpenPgliteOptions = {}): Promise<PGlite> {
  const { cacheDir = defaultCacheDir(), settings = {}, ...rest } = options;
  const startParams = [...PGlite.defaultStartParams];
  for (const [name, value] of Object.entries(settings)) startParams.push("-c", `${name}=${value}`);
  const pgliteOptions = { ...rest, startParams };
  if (existsSync(join(dir, "PG_VERSION"))) return ready(new PGlite({ ...pgliteOptions, dataDir: dir }));
  try {
    const template = await clusterTemplate(cacheDir);
    unpackCluster(new Uint8Array(await template.arrayBuffer()), dir);
    return await ready(new PGlite({ ...pgliteOptions, dataDir: dir }));
  } catch {
    dropTemplate(cacheDir);
    forgetTemplate(cacheDir);
    // The directory held no cluster before: whatever the failed unpacking left in it goes.
    if (existsSync(dir))
      for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    return ready(new PGlite({ ...pgliteOptions, dataDir: dir }));
  }
}

async function ready(db: PGlite): Promise<PGlite> {
  try {
    await db.waitReady;
    return db;
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
