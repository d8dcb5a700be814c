import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  inputsFingerprint,
  outputsFingerprint,
  REGENERATE_COMMAND,
  readManifest,
} from "./artifactsManifest.js";
import { collectSources } from "./solcInput.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const artifactsDir = `${root}artifacts`;
const regenerate = `run \`${REGENERATE_COMMAND}\` and commit contracts/artifacts with the Solidity sources`;

/** `git status --porcelain` of paths under contracts/, or undefined outside a git checkout. */
function changed(...paths: string[]): string | undefined {
  const git = spawnSync("git", ["status", "--porcelain", "--", ...paths], { cwd: root, encoding: "utf8" });
  return git.status === 0 ? git.stdout.trim() : undefined;
}

describe("the committed contract artifacts", () => {
  const manifest = readManifest(artifactsDir);

  it("were compiled from the Solidity sources as they are", () => {
    expect(manifest, `contracts/artifacts has no readable manifest: ${regenerate}`).toBeDefined();
    const inputs = inputsFingerprint(collectSources(root, `${root}src`), `${root}scripts`);
    expect(
      manifest?.inputs,
      `the Solidity sources changed since contracts/artifacts was made: ${regenerate}`,
    ).toBe(inputs);
  });

  it("are the compiler's output, not edited by hand or half-merged", () => {
    expect(
      manifest && outputsFingerprint(artifactsDir, manifest.enums),
      `contracts/artifacts is not what the compiler wrote: ${regenerate}`,
    ).toBe(manifest?.outputs);
  });

  // Outside a git checkout, or while the contracts are being worked on, there is nothing committed to compare.
  const sourcesCommitted = changed("src", "scripts", "package.json", "../package-lock.json") === "";
  it.runIf(sourcesCommitted)("are committed whenever the sources they come from are", () => {
    expect(changed("artifacts"), "contracts/artifacts was regenerated but not committed: commit it").toBe("");
  });
});
