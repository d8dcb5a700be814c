import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCliToEnd } from "./cliProcess.js";

describe("atoma proxy keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-keys-"));
  const where = ["--data-dir", dir];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a key shown once, lists it without the key, updates and revokes it", async () => {
    const created = await runCliToEnd([
      ...["proxy", "keys", "create", ...where, "--name", "team", "--budget", "2.5", "--rpm", "60"],
      ...["--tpm", "10000", "--models", "atoma-tiny,other", "--expires", "30d"],
    ]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key).toMatchObject({
      name: "team",
      budget: "2.5",
      requestsPerMinute: 60,
      tokensPerMinute: 10_000,
      models: ["atoma-tiny", "other"],
      status: "active",
    });
    expect(key.key).toMatch(/^sk-atoma-/);
    expect(created.stderr).toContain("shown this once");

    const listed = await runCliToEnd(["proxy", "keys", "list", ...where]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: key.id, name: "team" })]);
    expect(listed.stdout).not.toContain(key.key.slice(15));

    const updated = await runCliToEnd([
      ...["proxy", "keys", "update", key.id, ...where, "--budget", "none", "--models", "all"],
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ budget: null, models: null, requestsPerMinute: 60 });

    const revoked = await runCliToEnd(["proxy", "keys", "revoke", key.id, ...where]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ status: "revoked" });
  }, 120_000);

  it("refuses bad input with one line and a non-zero exit", async () => {
    const cases: [string[], RegExp][] = [
      [["create"], /give --name/],
      [["create", "--name", "x", "--budget", "-1"], /--budget must be an amount of TOMA/],
      [["create", "--name", "x", "--budget", "1e9"], /--budget must be an amount of TOMA/],
      [["create", "--name", "x", "--rpm", "0"], /--rpm must be a whole number/],
      [["create", "--name", "x", "--tpm", "many"], /--tpm must be a whole number/],
      [["create", "--name", "x", "--models", "a,,b"], /--models must be names/],
      [["create", "--name", "x", "--expires", "tomorrow"], /--expires must be a date/],
      [["update", "key_0000000000000000"], /give at least one of/],
      [["create", "--name", "x", "--admin-url", "ftp://x"], /--admin-url must be an http/],
      [["create", "--name", "x", "--admin-url", "http://127.0.0.1:1"], /set ATOMA_PROXY_ADMIN_TOKEN/],
    ];
    for (const [args, message] of cases) {
      const run = await runCliToEnd(["proxy", "keys", ...args, ...where]);
      expect(run.code, args.join(" ")).not.toBe(0);
      expect(run.stderr.trim().split("\n"), args.join(" ")).toEqual([expect.stringMatching(message)]);
    }
    const bad = await runCliToEnd(["proxy", "keys", "create", ...where, "--name", "a\u001bb"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toEqual([
      "atoma: name: must not hold control characters (invalid_input)",
    ]);
    const unknown = await runCliToEnd(["proxy", "keys", "revoke", "key_0000000000000000", ...where]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toBe("atoma: there is no API key key_0000000000000000 (key_not_found)");
    const short = await runCliToEnd(["proxy", "keys", "list", "--admin-url", "http://127.0.0.1:1"], {
      ATOMA_PROXY_ADMIN_TOKEN: "short",
    });
    expect(short.stderr.trim()).toBe(
      "atoma: ATOMA_PROXY_ADMIN_TOKEN must be at least 32 characters (cli_usage)",
    );
  }, 120_000);
});
