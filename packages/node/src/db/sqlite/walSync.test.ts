import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DatabaseError } from "../../errors.js";
import { WalSync } from "./walSync.js";

const root = mkdtempSync(join(tmpdir(), "atoma-wal-sync-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("WalSync", () => {
  it("answers a call made while a sync runs with one that starts after it, shared by every such call", async () => {
    const path = join(root, "state.db-wal");
    writeFileSync(path, "frames");
    const wal = new WalSync(path);
    try {
      const first = wal.sync();
      appendFileSync(path, "a commit made while the first sync runs");
      const later = Array.from({ length: 50 }, () => wal.sync());
      expect(later.every((call) => call === later[0])).toBe(true);
      expect(later[0]).not.toBe(first);
      await Promise.all([first, ...later]);
      expect(wal.started).toBe(2);
      await wal.sync();
      expect(wal.started).toBe(3);
    } finally {
      await wal.close();
    }
  });

  it("fails every sync after the first failure, and every sync once closed", async () => {
    const path = join(root, "absent-wal");
    const failing = new WalSync(path);
    await expect(failing.sync()).rejects.toThrow(DatabaseError);
    writeFileSync(path, "frames"); // the file now exists: a later success would prove nothing about the lost sync
    await expect(failing.sync()).rejects.toThrow(/syncing the embedded database's log failed/);
    await failing.close();

    const closed = new WalSync(path);
    await closed.sync();
    await closed.close();
    await expect(closed.sync()).rejects.toThrow(/closed/);
  });
});
