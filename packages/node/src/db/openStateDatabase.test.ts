import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DatabaseError } from "../errors.js";
import { openStateDatabase } from "./openStateDatabase.js";

const root = mkdtempSync(join(tmpdir(), "atoma-open-db-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("openStateDatabase", () => {
  it("names an unreachable PostgreSQL without its password", async () => {
    const error = await openStateDatabase({
      kind: "postgres",
      url: "postgres://atoma:hunter2@127.0.0.1:1/atoma",
      schema: "public",
      poolSize: 1,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).shortMessage).toBe(
      "cannot reach PostgreSQL at postgres://atoma:***@127.0.0.1:1/atoma",
    );
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("takes over the lock of an embedded database whose process died", async () => {
    const dir = join(root, "db");
    // pid 2^22 + 1 is above Linux's default pid_max: no process has it
    writeFileSync(`${dir}.lock`, String(4_194_305));
    const state = await openStateDatabase({ kind: "embedded", dir });
    await state.close();
  });
});
