import { type ChildProcess, spawn } from "node:child_process";
import { gpuNonceFor, unverifiedGpuTokenNonce } from "@atoma/confidential";
import { AttestationRateLimitedError, EvidenceSourceError } from "./errors.js";

/** Where the GPU nonce (64 hex digits, no `0x`) goes in the command's arguments; also in `ATOMA_GPU_NONCE`. */
export const GPU_NONCE_PLACEHOLDER = "{nonce}";
/** More than any NRAS token; a command printing past it is broken or hostile. */
const MAX_OUTPUT_BYTES = 64 * 1024;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Variables every command gets from the node's environment (its own settings, RPC URLs and keys stay out). */
const BASE_ENV = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

export interface GpuTokenCommandOptions {
  /** The executable and its arguments, run without a shell; `{nonce}` is replaced in each argument. */
  command: readonly [string, ...string[]];
  /** Longest the command may run before its whole process group is killed and the evidence fails. */
  timeoutMs: number;
  /** Names of further environment variables the command is given (its credentials for NVIDIA's service, say). */
  env?: readonly string[] | undefined;
  /** Commands running at once; more wait, up to `maxWaiting`, past which a quote is refused for now (429). */
  maxRunning?: number | undefined;
  maxWaiting?: number | undefined;
}

/**
 * GPU evidence from the operator's own tooling (`confidential.gpuTokenCommand`): for each quote the command collects
 * the GPUs' evidence for `gpuNonceFor(reportData)`, has NVIDIA's attestation service check it, and prints the token
 * it got back on stdout. The node serves the token beside the quote only when it is a JWT naming that nonce, so a
 * misconfigured or stale verifier fails the evidence here instead of at every client. The token is not verified
 * here (clients do, against NVIDIA's key set). The command runs in a process group of its own, killed whole on a
 * timeout or an overflow; it gets a minimal environment; its stderr is never read into an error or a log (such
 * tools print credentials). At most `maxRunning` run at once and `maxWaiting` wait: past that a fresh quote is
 * refused with 429 `attestation_rate_limited` (clients then take the epoch evidence), so slow GPU attestation
 * cannot queue requests without bound.
 */
export function gpuTokenCommand(
  options: GpuTokenCommandOptions,
): (reportData: Uint8Array) => Promise<string> {
  const maxRunning = options.maxRunning ?? 2;
  const maxWaiting = options.maxWaiting ?? 4;
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  const acquire = async () => {
    if (running < maxRunning) {
      running++;
      return;
    }
    if (waiting.length >= maxWaiting)
      throw new AttestationRateLimitedError(Math.max(1, Math.ceil(options.timeoutMs / 1000)));
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  return async (reportData) => {
    const nonce = gpuNonceFor(reportData).slice(2);
    const [file, ...args] = options.command.map((part) => part.replaceAll(GPU_NONCE_PLACEHOLDER, nonce));
    await acquire();
    let stdout: string;
    try {
      stdout = await run(file!, args, commandEnv(nonce, options.env), options.timeoutMs);
    } finally {
      release();
    }
    const token = stdout.trim();
    if (!JWT.test(token))
      throw new EvidenceSourceError("confidential.gpuTokenCommand printed no JWT on stdout");
    if (unverifiedGpuTokenNonce(token) !== nonce)
      throw new EvidenceSourceError(
        "confidential.gpuTokenCommand printed a token for another nonce (its eat_nonce is not the quote's GPU nonce)",
      );
    return token;
  };
}

function commandEnv(nonce: string, extra: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ATOMA_GPU_NONCE: nonce };
  for (const name of [...BASE_ENV, ...extra])
    if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        env,
        detached: true,
        stdio: ["ignore", "pipe", "ignore"],
        windowsHide: true,
      });
    } catch {
      reject(new EvidenceSourceError("confidential.gpuTokenCommand cannot be run"));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const killGroup = (why: string) => {
      failure ??= why;
      try {
        // The whole group: a wrapper script's own children (the NVIDIA client) die with it.
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => killGroup(`ran past ${timeoutMs} ms and was killed`), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) killGroup(`printed more than ${MAX_OUTPUT_BYTES} bytes`);
      else chunks.push(chunk);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        error.code === "ENOENT"
          ? "cannot be run: no such executable"
          : error.code === "EACCES"
            ? "cannot be run: permission denied"
            : "cannot be run";
      reject(new EvidenceSourceError(`confidential.gpuTokenCommand ${why}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (failure) reject(new EvidenceSourceError(`confidential.gpuTokenCommand ${failure}`));
      else if (code === 0) resolve(Buffer.concat(chunks).toString("utf8"));
      else
        reject(
          new EvidenceSourceError(
            `confidential.gpuTokenCommand ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`,
          ),
        );
    });
  });
}
