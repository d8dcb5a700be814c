import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const PROCESS_SCRIPT = fileURLToPath(new URL("./helpers/restartableGatewayProcess.ts", import.meta.url));
const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const nodeKey = privateKeyToAccount(generatePrivateKey());
const CUT_LIMIT = 3;
const streamBody = {
  model: "tiny",
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 400,
  stream: true,
};
const plain = { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Started {
  child: ChildProcess;
  url: string;
  holderId: string;
  key?: string;
  /** The errors it counted against nodes (`nodeId:code`), as it prints them. */
  nodeErrors: string[];
}

function startGateway(args: Record<string, unknown>): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", PROCESS_SCRIPT, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const nodeErrors: string[] = [];
  return new Promise((resolve, reject) => {
    let out = "";
    let ready = false;
    child.once("exit", (code, signal) => reject(new Error(`the gateway exited (${code ?? signal})`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split("\n");
      out = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("nodeError ")) nodeErrors.push(line.slice(10));
        if (line.startsWith("ready ") && !ready) {
          ready = true;
          resolve({
            child,
            nodeErrors,
            ...(JSON.parse(line.slice(6)) as Omit<Started, "child" | "nodeErrors">),
          });
        }
      }
    });
  });
}

async function kill(started: Started): Promise<void> {
  const exited = new Promise((resolve) => started.child.once("exit", resolve));
  started.child.kill("SIGKILL");
  await exited;
}

const chatAt = (url: string, key: string, body: Record<string, unknown>) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

// Issue 12, gateway state past a restart: a node that cuts a stream, waits for the gateway to be killed (a crash, a
// deploy), and cuts again was counted from zero by each gateway process, and never put aside. Each gateway process
// here is killed with SIGKILL after one cut; the third process still puts the node aside at the third cut.
describe("a node that cuts one stream per gateway process, each process killed", () => {
  let db: TestDatabaseConfig;
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let script: NodeScript = { kind: "honest" };
  let running: Started | undefined;

  beforeAll(async () => {
    db = embedded.make();
    node = await startFakeNode(
      nodeKey,
      1n,
      CHAIN_ID,
      STACK_MANAGER,
      (body) => (body.stream === true ? script : { kind: "honest" }),
      { strictNonces: true },
    );
  });
  afterAll(async () => {
    if (running) await kill(running);
    await node?.stop();
    await db?.dispose();
  });

  it("is put aside at the third cut, as by one process", async () => {
    if (db.config.kind !== "embedded") throw new Error("an embedded database is expected");
    const common = {
      dbDir: db.config.dir,
      node: { url: node.url, signer: nodeKey.address, price: String(PRICE) },
      gatewayKey: generatePrivateKey(),
      options: {
        firstByteTimeoutMs: 5_000,
        resendDelayMs: 10,
        requestTimeoutMs: 60_000,
        cutLimit: CUT_LIMIT,
      },
    };
    let key = "";
    for (let cut = 1; cut <= CUT_LIMIT; cut++) {
      const previous = running;
      if (previous) await kill(previous);
      running = await startGateway({
        ...common,
        ...(cut === 1
          ? { stackUnits: "1000000", createKey: true }
          : { previousHolderId: previous?.holderId }),
      });
      key ||= running.key ?? "";
      // The node finishes the cut request well after the gateway's resend (a process of its own starts slowly).
      const reads = node.leafReads.length;
      script = { kind: "cutThenFinish", finishMs: 1_500 };
      expect(await (await chatAt(running.url, key, streamBody)).text()).toContain("Hel");
      await sleep(1_700);
      script = { kind: "honest" };
      expect((await chatAt(running.url, key, plain)).status).toBe(200);
      expect({ cut, read: node.leafReads.slice(reads).map((read) => read.found) }).toEqual({
        cut,
        read: [true],
      });
      // One cut, or two, look like broken connections: nothing counted against the node yet.
      if (cut < CUT_LIMIT) expect({ cut, errors: running.nodeErrors }).toEqual({ cut, errors: [] });
    }
    // The third, in the third process: put aside.
    const last = running;
    await expect.poll(() => last?.nodeErrors, { timeout: 5_000 }).toContain("1:repeated_cuts");
  }, 180_000);
});
