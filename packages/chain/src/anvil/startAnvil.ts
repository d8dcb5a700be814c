import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { type Logger, silentLogger } from "@atoma/core";
import { AnvilStartError } from "../errors.js";
import { anvilBinaryPath } from "./binary.js";
import { waitForRpc } from "./waitForRpc.js";

export interface AnvilOptions {
  /** @default "127.0.0.1" */
  host?: string | undefined;
  /** 0 picks a free port. @default 0 */
  port?: number | undefined;
  /** @default 31337 */
  chainId?: number | undefined;
  /** Seconds between blocks; omitted means a block per transaction. */
  blockTime?: number | undefined;
  /** Directory whose `state.json` is loaded at start and written at stop. */
  stateDir?: string | undefined;
  /** Dev accounts to create. @default 10 */
  accounts?: number | undefined;
  /** Ether per dev account. @default 10000 */
  balance?: number | undefined;
  /** How long to wait for the first JSON-RPC answer. @default 15000 */
  startTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

export interface Anvil {
  rpcUrl: string;
  wsUrl: string;
  port: number;
  chainId: number;
  pid: number;
  /** Stops anvil (writing its state when `stateDir` was given) and waits for it to exit. */
  stop(): Promise<void>;
}

// Runs anvil under sh so that it dies with us even if we are killed with SIGKILL: the watcher's `read` returns
// when our end of its stdin pipe closes, whatever the reason, and then it stops anvil.
// (sh gives background jobs /dev/null as stdin, hence the copy of our pipe on fd 3.)
const guardScript = `exec 3<&0
"$@" </dev/null 3<&- & child=$!
{ read -r _ignored <&3; kill -TERM "$child" 2>/dev/null; } & watcher=$!
exec 3<&-
trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
wait "$child"; status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
kill "$watcher" 2>/dev/null
exit $status`;

const LISTENING = /Listening on ([\d.]+|\[[0-9a-f:]+\]|[\w.-]+):(\d+)/;

/** Starts anvil from the npm package, waits until JSON-RPC answers, and returns how to reach and stop it. */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const host = options.host ?? "127.0.0.1";
  const chainId = options.chainId ?? 31337;
  const logger = (options.logger ?? silentLogger).child({ module: "anvil" });
  const args = [
    "--host",
    host,
    "--port",
    String(options.port ?? 0),
    "--chain-id",
    String(chainId),
    "--accounts",
    String(options.accounts ?? 10),
    "--balance",
    String(options.balance ?? 10_000),
  ];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  if (options.stateDir !== undefined) {
    mkdirSync(options.stateDir, { recursive: true });
    args.push("--state", options.stateDir);
  }
  const child = spawn("sh", ["-c", guardScript, "anvil", anvilBinaryPath(), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const port = await readPort(child, output, options.startTimeoutMs ?? 15_000);
    const rpcUrl = `http://${host}:${port}`;
    await waitForRpc(rpcUrl, options.startTimeoutMs ?? 15_000);
    logger.info({ rpcUrl, pid: child.pid }, "anvil started");
    return {
      rpcUrl,
      wsUrl: `ws://${host}:${port}`,
      port,
      chainId,
      pid: child.pid!,
      stop: () => stopChild(child, exited),
    };
  } catch (cause) {
    await stopChild(child, exited);
    throw new AnvilStartError("anvil did not start", { details: output.join("").slice(-2000), cause });
  }
}

function readPort(child: ChildProcess, output: string[], timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => reject(new AnvilStartError(`no "Listening on" line in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      if (output.length < 200) output.push(text);
      buffered += text;
      const match = LISTENING.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[2]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.length < 200 && output.push(chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new AnvilStartError(`anvil exited with code ${code} before listening`));
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5_000).unref());
  if ((await Promise.race([exited, timeout])) === "timeout") {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  }
  child.stdin?.destroy();
}
