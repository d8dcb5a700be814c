import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCliToEnd } from "./cliProcess.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-attest-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("atoma attest's verification options", () => {
  it("refuses a --min-tcb-evaluation or --gpu-jwks it cannot use, before asking the chain or the node", async () => {
    for (const bad of ["0", "17.5", "x"]) {
      const run = await runCliToEnd(["attest", "1", "--min-tcb-evaluation", bad]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("--min-tcb-evaluation must be a positive whole number (cli_usage)");
    }
    const empty = join(dir, "empty.json");
    writeFileSync(empty, JSON.stringify({ keys: [] }));
    for (const [file, says] of [
      [empty, "must be a JWKS"],
      [join(dir, "absent.json"), "cannot be read"],
    ] as const) {
      const run = await runCliToEnd(["attest", "1", "--gpu-jwks", file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(says);
    }
    // Usable values pass on to the chain (none here: the network is what fails next).
    const run = await runCliToEnd([
      "attest",
      "1",
      "--min-tcb-evaluation",
      "18",
      "--network",
      "http://127.0.0.1:1",
    ]);
    expect(run.stderr).not.toContain("--min-tcb-evaluation");
  });
});
