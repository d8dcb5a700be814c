import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StateStore } from "../state/stateStore.js";
import { writeFileDurably } from "./durableWrite.js";
import { withFileLock } from "./fileLock.js";

/** A key as a file name: its readable part kept (for a person looking), its hash making it unique. */
function fileName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 120);
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return `${readable}.${hash}.json`;
}

/**
 * A `StateStore` for Node: one file per key under `dir` (made, mode 0700), each written whole through a temporary
 * file of the process's own, flushed and renamed (`writeFileDurably`: a crash or power loss never leaves half of
 * one), mode 0600, synchronously: a write is on disk before the client relies on it. Processes of one owner may
 * share the directory: an update of a key holds its lock file (`exclusive`), so none loses another's change.
 */
export function fileStateStore(dir: string): StateStore {
  const root = resolve(dir);
  return {
    get(key) {
      try {
        return readFileSync(join(root, fileName(key)), "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    set(key, value) {
      writeFileDurably(join(root, fileName(key)), value);
    },
    exclusive: (key, run) => withFileLock(join(root, fileName(key)), run),
  };
}
