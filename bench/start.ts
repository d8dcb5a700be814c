// `npm start`'s startup: `atoma dev` to its ready line, cold (empty model cache) then warm, with a phase breakdown.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { report } from "./lib/report.js";

/**
 * Options: `--compile` also recompiles the contracts first (`contracts` build `--force`) and reports
 * `start_compile_s`. The built CLI is run (`npm run build` first); `npm start`'s own build with nothing changed
 * (`tools/build.ts --no-check`, the part of `npm start` before `atoma dev`) is `start_build_warm_s`.
 * `--fresh-clone` also does what a new user does: a clone of the committed HEAD, `npm install` (from npm's local
 * cache when it holds the packages), `npm start` to the ready line: `start_fresh_clone_install_s`, `_start_s`, and
 * their sum `start_fresh_clone_s`.
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

/** Runs `command` in its own process group until it prints a line starting `ready ` on stdout, then Ctrl-C's it. */
function untilReady(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
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
        // The whole group: `npm start` runs the CLI under a shell.
        if (child.pid !== undefined) process.kill(-child.pid, "SIGINT");
      }
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (readyS === undefined)
        reject(new Error(`${command} ${args.join(" ")} exited (${code}) before its ready line`));
      else resolve({ readyS, phases });
    });
  });
}

const startOnce = (cacheDir: string): Promise<Run> =>
  untilReady(process.execPath, [cli, "dev", "--log-format", "json"], root, {
    ...process.env,
    ATOMA_CACHE_DIR: cacheDir,
  });

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

const timed = (command: string, args: string[], cwd = root): number => {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed`);
  return (Date.now() - started) / 1000;
};

if (process.argv.includes("--compile"))
  report(
    "start_compile_s",
    timed("npm", ["run", "build", "--silent", "-w", "@atoma/contracts", "--", "--force"]),
    "s",
  );
report(
  "start_build_warm_s",
  timed(process.execPath, ["--import", "tsx", "tools/build.ts", "--no-check"]),
  "s",
);
const cacheDir = mkdtempSync(join(tmpdir(), "atoma-start-bench-"));
try {
  reportRun("start_cold", await startOnce(cacheDir));
  reportRun("start_warm", await startOnce(cacheDir));
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}

/** A new user's first start: a fresh clone of HEAD, `npm install`, `npm start` to the ready line (empty caches). */
async function freshClone(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "atoma-fresh-clone-"));
  try {
    const top = spawnSync("git", ["rev-parse", "--show-toplevel"], {
      cwd: root,
      encoding: "utf8",
    }).stdout.trim();
    const clone = join(work, "project");
    timed("git", ["clone", "-q", top, clone]);
    const install = timed("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], clone);
    report("start_fresh_clone_install_s", install, "s");
    const env = { ...process.env, ATOMA_CACHE_DIR: join(work, "cache") };
    const start = await untilReady("npm", ["start"], clone, env);
    report("start_fresh_clone_start_s", start.readyS, "s");
    report("start_fresh_clone_s", install + start.readyS, "s");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv.includes("--fresh-clone")) await freshClone();
