import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";

const BLOCK = 512;

/** A tarball entry that would land outside the database's directory, or a kind of entry a cluster never holds. */
export class ClusterArchiveError extends Error {
  readonly code = "cluster_archive_invalid";
  constructor(message: string) {
    super(message);
    this.name = "ClusterArchiveError";
  }
}

const text = (bytes: Uint8Array, start: number, length: number): string => {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return Buffer.from(end === -1 ? field : field.subarray(0, end)).toString("utf8");
};

/**
 * Writes the cluster in `tarball` (the ustar archive PGlite's `dumpDataDir("none")` makes: directories and regular
 * files, named from the data directory's root) into `dir` with Node's file system. PGlite's own `loadDataDir` does
 * the same through its WebAssembly file system, several times slower and growing its memory by the archive's size.
 * Throws `ClusterArchiveError` for an entry that is not a file or directory, is cut short or whose path leaves
 * `dir`, and for an archive without a cluster in it.
 */
export function unpackCluster(tarball: Uint8Array, dir: string): void {
  for (let offset = 0; offset + BLOCK <= tarball.length; ) {
    const header = tarball.subarray(offset, offset + BLOCK);
    const name = text(header, 0, 100);
    if (name === "") break; // the two zero blocks that end an archive
    const prefix = text(header, 345, 155);
    const path = normalize((prefix ? `${prefix}/${name}` : name).replace(/^\/+/, ""));
    if (path === ".." || path.startsWith(`..${sep}`) || path.startsWith(sep))
      throw new ClusterArchiveError(`archive entry ${JSON.stringify(name)} is outside the data directory`);
    const size = Number.parseInt(text(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const body = offset + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || body + size > tarball.length)
      throw new ClusterArchiveError(`archive entry ${JSON.stringify(name)} is truncated`);
    if (type === "5") mkdirSync(join(dir, path), { recursive: true, mode: 0o700 });
    else if (type === "0" || type === "\0") {
      mkdirSync(dirname(join(dir, path)), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, path), tarball.subarray(body, body + size), { mode: 0o600 });
    } else
      throw new ClusterArchiveError(
        `archive entry ${JSON.stringify(name)} is of type ${JSON.stringify(type)}`,
      );
    offset = body + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (!existsSync(join(dir, "PG_VERSION"))) throw new ClusterArchiveError("the archive holds no cluster");
}
