import { type ExecFileException, execFile } from "node:child_process";
import { gpuNonceFor, unverifiedGpuTokenNonce } from "@atoma/confidential";
import { EvidenceSourceError } from "./errors.js";

/** Where the GPU nonce (64 hex digits, no `0x`) goes in the command's arguments; also in `ATOMA_GPU_NONCE`. */
export const GPU_NONCE_PLACEHOLDER = "{nonce}";
/** More than any NRAS token; a command printing past it is broken or hostile. */
const MAX_OUTPUT_BYTES = 64 * 1024;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface GpuTokenCommandOptions {
  /** The executable and its arguments, run without a shell; `{nonce}` is replaced in each argument. */
  command: readonly [string, ...string[]];
  /** Longest the command may run before it is killed and the evidence fails. */
  timeoutMs: number;
}

/**
 * GPU evidence from the operator's own tooling (`confidential.gpuTokenCommand`): for each quote the command collects
 * the GPUs' evidence for `gpuNonceFor(reportData)`, has NVIDIA's attestation service check it, and prints the token
 * it got back on stdout. The node serves the token beside the quote only when it is a JWT naming that nonce, so a
 * misconfigured or stale verifier fails the evidence here instead of at every client. The token is not verified
 * here (clients do, against NVIDIA's key set); the command's stderr is never copied into an error or a log.
 */
export function gpuTokenCommand(
  options: GpuTokenCommandOptions,
): (reportData: Uint8Array) => Promise<string> {
  return async (reportData) => {
    const nonce = gpuNonceFor(reportData).slice(2);
    const [file, ...args] = options.command.map((part) => part.replaceAll(GPU_NONCE_PLACEHOLDER, nonce));
    const stdout = await run(file!, args, nonce, options.timeoutMs);
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

function run(file: string, args: string[], nonce: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: "utf8",
        windowsHide: true,
        env: { ...process.env, ATOMA_GPU_NONCE: nonce },
      },
      (error, stdout) => {
        if (!error) return resolve(stdout);
        reject(new EvidenceSourceError(`confidential.gpuTokenCommand ${failure(error, timeoutMs)}`));
      },
    );
  });
}

function failure(error: ExecFileException, timeoutMs: number): string {
  if (error.code === "ENOENT") return "cannot be run: no such executable";
  if (error.code === "EACCES") return "cannot be run: permission denied";
  if (error.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER")
    return `printed more than ${MAX_OUTPUT_BYTES} bytes`;
  if (error.killed) return `ran past ${timeoutMs} ms and was killed`;
  if (typeof error.code === "number") return `exited with code ${error.code}`;
  return "failed";
}
