import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultCacheDir, openPglite, templateFile } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "atoma-embedded-db-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
const freshDir = () => {
  const dir = join(root, `db-${++count}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** A ustar archive of regular files, as an attacker who can write the cache directory would plant one. */
function tarball(files: [name: string, content: string][]): Buffer {
  const blocks = files.flatMap(([name, content]) => {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write(`${content.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write("0", 156);
    header.write("ustar\u000000", 257);
    const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    body.write(content);
    return [header, body];
  });
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

async function roundTrip(dir: string, cacheDir: string, value: number): Promise<number[]> {
  const db = await openPglite(dir, { cacheDir });
  await db.exec(`create table if not exists t (x int); insert into t values (${value});`);
  await db.close();
  const again = await openPglite(dir, { cacheDir });
  const rows = (await again.query<{ x: number }>("select x from t order by x")).rows.map((row) => row.x);
  await again.close();
  return rows;
}

describe("openPglite", () => {
  it("unpacks new databases from one cached cluster, each its own and kept across reopening", async () => {
    const cacheDir = join(root, "cache-a");
    // Several databases opening at once share one initdb; the cache holds one finished file, no partial ones.
    const dirs = [freshDir(), freshDir(), freshDir()];
    const rows = await Promise.all(dirs.map((dir, k) => roundTrip(dir, cacheDir, k)));
    expect(rows).toEqual([[0], [1], [2]]);
    expect(readdirSync(cacheDir)).toEqual([templateFile(cacheDir).slice(cacheDir.length + 1)]);
    // An existing database is opened as it is, never unpacked over.
    expect(await roundTrip(dirs[0]!, cacheDir, 10)).toEqual([0, 10]);
  });

  it("recovers from a cache file it cannot unpack (truncated or planted), and replaces it", async () => {
    const cacheDir = join(root, "cache-b");
    mkdirSync(cacheDir);
    writeFileSync(templateFile(cacheDir), "not a tarball of a cluster");
    expect(await roundTrip(freshDir(), cacheDir, 7)).toEqual([7]);
    expect(await roundTrip(freshDir(), cacheDir, 8)).toEqual([8]);
  });

  it("refuses a planted cluster whose entries climb out of the database's directory, and replaces it", async () => {
    const cacheDir = join(root, "cache-d");
    mkdirSync(cacheDir);
    writeFileSync(templateFile(cacheDir), tarball([["/../../escaped", "planted"]]));
    const dir = freshDir();
    expect(await roundTrip(dir, cacheDir, 5)).toEqual([5]);
    expect(existsSync(join(dir, "..", "..", "escaped"))).toBe(false);
    expect(existsSync(join(dir, "..", "escaped"))).toBe(false);
    expect(await roundTrip(freshDir(), cacheDir, 6)).toEqual([6]);
  });

  it("still opens when the cache directory cannot be written", async () => {
    const cacheDir = join(root, "cache-c");
    mkdirSync(cacheDir);
    chmodSync(cacheDir, 0o500);
    try {
      expect(await roundTrip(freshDir(), cacheDir, 3)).toEqual([3]);
    } finally {
      chmodSync(cacheDir, 0o700);
    }
  });

  it("keys the cached cluster by the PGlite version and honours ATOMA_CACHE_DIR and XDG_CACHE_HOME", () => {
    expect(templateFile("/c")).toMatch(/^\/c\/pglite-\d+\.\d+\.\d+-cluster\.tar$/);
    expect(defaultCacheDir({ ATOMA_CACHE_DIR: "/x" })).toBe("/x");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/y" })).toBe("/y/atoma");
    expect(existsSync(root)).toBe(true);
  });
});
