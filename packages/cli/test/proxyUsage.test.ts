import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openGatewayDatabase, UsageBook } from "@atoma/proxy";
import { afterAll, describe, expect, it } from "vitest";
import { runCliToEnd } from "./cliProcess.js";

describe("atoma proxy usage", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-usage-"));
  const where = ["--data-dir", dir];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints each key's requests, tokens and spend per model and day, one key's with --key", async () => {
    const created = await runCliToEnd(["proxy", "keys", "create", ...where, "--name", "a"]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const opened = await openGatewayDatabase({ kind: "embedded", dir: join(dir, "db") });
    try {
      const book = new UsageBook(opened.db);
      await book.record(id, "atoma-tiny", 12n, 3_000_000_000_000_000n);
      await book.record(id, "atoma-tiny", 8n, 1_000_000_000_000_000n);
    } finally {
      await opened.close();
    }
    const printed = await runCliToEnd(["proxy", "usage", ...where, "--key", id, "--days", "7"]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual([
      expect.objectContaining({ key_id: id, model: "atoma-tiny", requests: 2, tokens: 20, spend: "0.004" }),
    ]);
  }, 120_000);

  it("refuses bad input with one line and a non-zero exit", async () => {
    const cases: [string[], RegExp][] = [
      [["--days", "0"], /--days must be a whole number/],
      [["--days", "1e3"], /--days must be a whole number/],
      [["--key", "'; drop table"], /--key must be a key id/],
      [["--admin-url", "ftp://x"], /--admin-url must be an http/],
    ];
    for (const [args, message] of cases) {
      const run = await runCliToEnd(["proxy", "usage", ...where, ...args]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
    }
  }, 120_000);
});
