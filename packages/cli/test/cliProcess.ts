import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

/** The built CLI (npm test builds before it runs the tests). */
export const cliPath = fileURLToPath(new URL("../dist/main.js", import.meta.url));

export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let receipts: string | undefined;
/**
 * Where a run keeps receipts and SDK state unless the test names a place: one folder per test file, never the
 * machine's ~/.atoma (which outlives the run, and holds state of other chains of the same id).
 */
const testReceipts = () => {
  receipts ??= mkdtempSync(join(tmpdir(), "atoma-cli-receipts-"));
  return receipts;
};

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ATOMA_RECEIPTS: testReceipts(), ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The command failed with one line on stderr matching `message`, and printed nothing on stdout. */
export async function expectRefused(args: string[], message: RegExp): Promise<void> {
  const refused = await runCliToEnd(args);
  expect(refused.code, args.join(" ")).not.toBe(0);
  expect(refused.stderr, args.join(" ")).toMatch(message);
  expect(refused.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
  expect(refused.stdout).toBe("");
}

/** Resolves with the JSON of the `ready {json}` line, or rejects with the CLI's stderr if it exits first. */
export function waitForReady<T = Record<string, unknown>>(run: CliRun, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ready line in ${timeoutMs} ms:\n${run.stderr()}`)),
      timeoutMs,
    );
    const check = () => {
      const line = run
        .stdout()
        .split("\n")
        .find((l) => l.startsWith("ready "));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice("ready ".length)) as T);
      }
    };
    run.child.stdout.on("data", check);
    void run.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`atoma exited with ${code} before ready:\n${run.stderr()}`));
    });
  });
}

/** Runs the CLI to its end: its exit code and everything it printed. */
export async function runCliToEnd(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
