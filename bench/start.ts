// `npm start`'s startup: `atoma dev` to its ready line, cold (empty model cache) then warm, with a phase breakdown.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { report } from "./lib/report.js";

/**
 * Options: `--compile` also recompiles the contracts first (`contracts` build `--force`, the cold build's largest
 * step) and reports `start_compile_s`. The built CLI is run (`npm run build` first); the warm build's own check
 * (`npm run build` with nothing changed, the part of `npm start` before `atoma dev`) is `start_build_warm_s`.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "packages", "cli", "dist", "main.js");

/** Each phase: the log message (pino JSON, `msg`) whose first appearance ends it. */
const PHASES: [string, string][] = [
  ["anvil", "anvil started"],
  ["deploy", "contracts deployed"],
  ["model", "model loaded"],
  ["echelon", "dev echelon approved"],
  ["registered", "the nodes are registered"],
  ["gateway_db", "gateway database ready"],
  ["node_db", "state database ready"],
  ["nodes_started", "node started"],
  ["gateway", "gateway listening"],
  ["attested", "the nodes joined the confidential task"],
];

interface Run {
  readyS: number;
  /** Seconds from the spawn to the last appearance of each phase's message. */
  phases: Map<string, number>;
}

function startOnce(cacheDir: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cli, "dev", "--log-format", "json"], {
      cwd: root,
      env: { ...process.env, ATOMA_CACHE_DIR: cacheDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const phases = new Map<string, number>();
    let stderr = "";
    let readyS: number | undefined;
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const lines = stderr.split("\n");
      stderr = lines.pop() ?? "";
      for (const line of lines) {
        let msg: unknown;
        try {
          msg = (JSON.parse(line) as { msg?: unknown }).msg;
        } catch {
          continue;
        }
        const phase = PHASES.find(([, message]) => message === msg);
        if (phase) phases.set(phase[0], (Date.now() - started) / 1000);
      }
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (readyS === undefined && /^ready /m.test(stdout)) {
        readyS = (Date.now() - started) / 1000;
        child.kill("SIGINT");
      }
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (readyS === undefined) reject(new Error(`atoma dev exited (${code}) before its ready line`));
      else resolve({ readyS, phases });
    });
  });
}

function reportRun(prefix: string, run: Run): void {
  report(`${prefix}_s`, run.readyS, "s");
  let previous = 0;
  for (const [name] of PHASES) {
    const at = run.phases.get(name);
    if (at === undefined) continue;
    // Phase lengths: from the previous phase's end (some overlap: the gateway opens while the nodes start).
    report(`${prefix}_${name}_s`, Math.max(0, at - previous), "s");
    previous = Math.max(previous, at);
  }
}

const timed = (command: string, args: string[]): number => {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed`);
  return (Date.now() - started) / 1000;
};

if (process.argv.includes("--compile"))
  report(
    "start_compile_s",
    timed("npm", ["run", "build", "--silent", "-w", "@atoma/contracts", "--", "--force"]),
    "s",
  );
report("start_build_warm_s", timed("npm", ["run", "build", "--silent"]), "s");
const cacheDir = mkdtempSync(join(tmpdir(), "atoma-start-bench-"));
try {
  reportRun("start_cold", await startOnce(cacheDir));
  reportRun("start_warm", await startOnce(cacheDir));
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
