import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAtomaPublicClient, getStack, setNodeUrl } from "@atoma/chain";
import { STACK_HEADERS } from "@atoma/core";
import { loadKeyFile } from "@atoma/node";
import { parseNetwork, readContext, userContext } from "@atoma/sdk";
import { type Address, erc20Abi } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RequestHeaders, startRelay } from "../../sdk/test/relay.js";
import { asideFile } from "../src/chat/asideStore.js";
import { RESTART_LINE } from "../src/chat/confidentialChat.js";
import { receiptsFile, stackHome } from "../src/chat/receiptStore.js";
import { type CliRun, runCli, waitForReady } from "./cliProcess.js";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  tasks: { chat: string };
  nodes: { id: string; url: string }[];
  user: { address: Address; privateKey: string };
}

interface Receipt {
  nodeId: string;
  stackId: string;
  leafIndex: string;
  units: string;
  cumulativeUnits: string;
  requestHash: string;
  responseHash: string;
  bought: boolean;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = runCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** The `receipt {json}` line `atoma chat` prints on stderr. */
function receiptOf(stderr: string): Receipt {
  const line = stderr.split("\n").find((l) => l.startsWith("receipt "));
  if (!line) throw new Error(`no receipt line in:\n${stderr}`);
  return JSON.parse(line.slice("receipt ".length)) as Receipt;
}

describe("atoma chat against atoma dev --nodes 3", () => {
  /** The stack the first test bought and reused. */
  let reusedStack = "";
  let dev: CliRun;
  let ready: Ready;
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-chat-"));
  const readyFile = join(dir, "dev.out");
  const jsonFile = join(dir, "network.json");
  const keyFile = join(dir, "user.key");
  const receipts = join(dir, "receipts");
  const stateDir = join(dir, "state");

  beforeAll(async () => {
    // The chats below keep their receipts here rather than in ~/.atoma/receipts.
    process.env.ATOMA_RECEIPTS = receipts;
    // Three: the chat task is verified, and a verified stack needs peers to check it (item 4).
    dev = runCli(["dev", "--nodes", "3", "--state-dir", stateDir, "--log-level", "warn"]);
    ready = await waitForReady<Ready>(dev, 240_000);
    // Both forms a user may have: atoma dev's stdout saved as it is, and the JSON alone.
    writeFileSync(readyFile, dev.stdout());
    writeFileSync(jsonFile, JSON.stringify(ready));
    writeFileSync(keyFile, `${ready.user.privateKey}\n`, { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    delete process.env.ATOMA_RECEIPTS;
    if (dev) {
      dev.child.kill("SIGINT");
      await dev.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("buys a stack, streams a verified answer, then reuses the stack for the next prompts", async () => {
    const first = await cli(["chat", "--network", readyFile, "--key-file", keyFile, "Hello there"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim().length).toBeGreaterThan(0);
    const bought = receiptOf(first.stderr);
    expect(bought).toMatchObject({ leafIndex: "0", bought: true });
    expect(bought.cumulativeUnits).toBe(bought.units);
    expect(ready.nodes.map((node) => node.id)).toContain(bought.nodeId);
    const ctx = {
      publicClient: createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
      addresses: ready.contracts as never,
    };
    const onChain = await getStack(ctx, BigInt(bought.stackId));
    expect(onChain).toMatchObject({ owner: ready.user.address, nodeId: BigInt(bought.nodeId), status: 1 });

    const second = await cli(["chat", "--network", jsonFile, "--max-tokens", "8", "Again"], {
      ATOMA_PRIVATE_KEY: ready.user.privateKey,
    });
    expect(second.code, second.stderr).toBe(0);
    const reused = receiptOf(second.stderr);
    expect(reused).toMatchObject({ stackId: bought.stackId, leafIndex: "1", bought: false });
    expect(BigInt(reused.cumulativeUnits)).toBe(BigInt(bought.units) + BigInt(reused.units));

    const third = await cli([
      "chat",
      "--network",
      jsonFile,
      "--key-file",
      keyFile,
      "--stack",
      bought.stackId,
      "Third",
    ]);
    expect(third.code, third.stderr).toBe(0);
    expect(receiptOf(third.stderr)).toMatchObject({ stackId: bought.stackId, leafIndex: "2", nonce: "2" });
    // Each chat ends with the verdict of verifyResponse against the chain; the stack has not settled yet.
    for (const run of [first, second, third])
      expect(run.stderr.trim().split("\n").at(-1)).toBe(
        "verdict verified; settlement unsettled; pending inclusion, settlement",
      );

    // Every receipt was kept, and an honest node's receipts prove nothing.
    const kept = JSON.parse(
      readFileSync(
        receiptsFile(
          receipts,
          await stackHome(
            createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
            ready.contracts.StackManager! as Address,
          ),
          BigInt(bought.stackId),
        ),
        "utf8",
      ),
    ) as { fields: { leafIndex: string; cumulativeUnits: string } }[];
    expect(kept.map((r) => r.fields.leafIndex)).toEqual(["0", "1", "2"]);
    expect(kept).toHaveLength(3);
    // The answer saved by --save is what atoma verify checks.
    const saved = join(dir, "answer.json");
    const fourth = await cli([
      "chat",
      "--network",
      jsonFile,
      "--key-file",
      keyFile,
      "--save",
      saved,
      "--json",
      "Fourth",
    ]);
    expect(fourth.code, fourth.stderr).toBe(0);
    // --json: one JSON object on stdout instead of the streamed text, the answer saved and its verdict.
    const printed = JSON.parse(fourth.stdout) as {
      answer: unknown;
      verdict: { ok: boolean; settlement: string };
    };
    expect(printed.answer).toEqual(JSON.parse(readFileSync(saved, "utf8")));
    expect(printed.verdict).toMatchObject({ ok: true, settlement: "unsettled" });
    const verified = await cli([
      "verify",
      saved,
      "--network",
      readyFile,
      "--stack",
      bought.stackId,
      "--json",
    ]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, receipt: { leaf_index: "3" } });
    const prove = await cli([
      ...["stack", "prove-fraud", bought.stackId, "--network", jsonFile, "--key-file", keyFile],
    ]);
    expect(prove.code).not.toBe(0);
    expect(prove.stderr).toMatch(
      /the 4 receipts kept for stack \d+ are consistent: there is nothing to prove/,
    );
    reusedStack = bought.stackId;
  }, 120_000);

  it("a kept receipt the node never signed (the file changed by hand) is named and never the base of the next nonce", async () => {
    const file = receiptsFile(
      receipts,
      await stackHome(
        createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
        ready.contracts.StackManager! as Address,
      ),
      BigInt(reusedStack),
    );
    const kept = JSON.parse(readFileSync(file, "utf8")) as {
      fields: Record<string, string>;
      signature: string;
    }[];
    const last = kept.at(-1)!;
    // Leaf 40 with a running total far ahead: a client starting from it would sign nonce 41 (refused as a gap) and
    // take any total below it for granted.
    const forged = {
      ...last,
      fields: { ...last.fields, leafIndex: "40", nonce: "40", cumulativeUnits: "900000" },
      signature: `0x${"ab".repeat(65)}`,
    };
    writeFileSync(file, JSON.stringify([...kept, forged]));
    const run = await cli([
      ...["chat", "--network", jsonFile, "--key-file", keyFile, "--stack", reusedStack, "--max-tokens", "4"],
      "After the edit",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: stack \d+'s kept receipts in .* hold one that is not evidence/);
    expect(receiptOf(run.stderr)).toMatchObject({ stackId: reusedStack, leafIndex: String(kept.length) });
    // The edited file still holds what was put there: the owner's to look at, never dropped.
    expect(readFileSync(file, "utf8")).toContain(forged.signature);
  }, 120_000);

  it("replaces a reused stack that is used up with a new one", async () => {
    const small = await cli([
      ...["stack", "buy", "--network", jsonFile, "--key-file", keyFile],
      ...["--task", ready.tasks.chat, "--units", "20", "--max-price", "5"],
    ]);
    expect(small.code, small.stderr).toBe(0);
    const { stackId } = JSON.parse(small.stdout) as { stackId: string };
    const asked = await cli(["chat", "--network", jsonFile, "--key-file", keyFile, "Hi"]);
    expect(asked.code, asked.stderr).toBe(0);
    const receipt = receiptOf(asked.stderr);
    expect(receipt.bought).toBe(true);
    expect(BigInt(receipt.stackId)).toBeGreaterThan(BigInt(stackId));

    const given = await cli(["chat", "--network", jsonFile, "--key-file", keyFile, "--stack", stackId, "Hi"]);
    expect(given.code).not.toBe(0);
    expect(given.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^atoma: node answered 402: /)]);
  }, 120_000);

  // Review 13, round 4: a node that lied about a stack cost a purchase per run: nothing kept it aside.
  it("puts aside a node that calls a live stack exhausted with no receipt to show, and no later run uses it", async () => {
    const network = parseNetwork(JSON.stringify(ready));
    const balance = () =>
      readContext(network).publicClient.readContract({
        address: ready.contracts.AtomaToken!,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [ready.user.address],
      });
    const asked = await cli(["chat", "--network", jsonFile, "--key-file", keyFile, "Which node?"]);
    expect(asked.code, asked.stderr).toBe(0);
    const { nodeId } = receiptOf(asked.stderr);
    const k = ready.nodes.findIndex((n) => n.id === nodeId);
    // The node's registered URL now leads through a real HTTP server that says every stack is exhausted.
    const liar = await startRelay(ready.nodes[k]!.url);
    liar.rewrite = (body, path) =>
      path.startsWith("/v1/chat")
        ? JSON.stringify({
            error: { message: "the stack is spent", type: "invalid_request_error", code: "stack_exhausted" },
          })
        : body;
    liar.statusOf = (status, path) => (path.startsWith("/v1/chat") ? 402 : status);
    const operator = userContext(network, loadKeyFile(join(stateDir, "nodes", `node-${k + 1}`, "node.key")));
    await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: liar.url });
    try {
      const before = await balance();
      const lied = await cli(["chat", "--network", jsonFile, "--key-file", keyFile, "Are you there?"]);
      expect(lied.code).not.toBe(0);
      expect(lied.stderr).toMatch(
        new RegExp(`node ${nodeId} is put aside: .*showed no receipt of its own.*no later run buys from it`),
      );
      expect(await balance()).toBe(before);
      const aside = JSON.parse(
        readFileSync(
          asideFile(
            receipts,
            await stackHome(readContext(network).publicClient, ready.contracts.StackManager! as Address),
          ),
          "utf8",
        ),
      ) as { nodeId: string }[];
      expect(aside.map((n) => n.nodeId)).toEqual([nodeId]);
      // The next run neither reuses that node's live stack nor buys from it.
      const next = await cli(["chat", "--network", jsonFile, "--key-file", keyFile, "And now?"]);
      expect(next.code, next.stderr).toBe(0);
      expect(receiptOf(next.stderr)).toMatchObject({ bought: true });
      expect(receiptOf(next.stderr).nodeId).not.toBe(nodeId);
      expect(liar.requests.filter((r) => r.path.startsWith("/v1/chat"))).toHaveLength(1);
    } finally {
      await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: ready.nodes[k]!.url });
      await liar.close();
    }
  }, 180_000);

  // A node (or anyone on the path to its http URL) ends a sealed stream after two chunks with a clear error event: a
  // cut (review sdk M-1), so the same signed request is resent; the resend is refused by HTTP as a spent stack the
  // node shows no receipt for, so the node is put aside and the request sealed again to the next node's key: the new
  // answer must not be spliced onto the text printed.
  it("--confidential: an answer sealed again after text was printed says so, and prints the new one from its start", async () => {
    const network = parseNetwork(JSON.stringify(ready));
    let stage: "inject" | "refuse" | "done" = "inject";
    const relays = await Promise.all(ready.nodes.map((node) => startRelay(node.url)));
    const refusing = new Set<number>();
    // The request whose answer was cut, and the one refused next on that node's relay: the resend. Only those two are
    // altered; anything else (a node that has not read a stack just bought yet answers `unknown_stack`, and is asked
    // again with a request sealed anew) passes on as it is, on whichever relay.
    let cut: { relay: number; headers: RequestHeaders } | undefined;
    let resent: { relay: number; headers: RequestHeaders } | undefined;
    for (const [k, relay] of relays.entries()) {
      relay.rewrite = (body, path, headers, _request, status) => {
        if (stage === "done" || path !== "/v1/chat/completions") return body;
        if (stage === "refuse") {
          if (k !== cut?.relay) return body;
          stage = "done";
          resent = { relay: k, headers };
          refusing.add(k);
          const error = {
            message: "the stack is spent",
            type: "invalid_request_error",
            code: "stack_exhausted",
          };
          return JSON.stringify({ error });
        }
        if (status !== 200 || !body.includes('"atoma.confidential.chunk"')) return body;
        stage = "refuse";
        cut = { relay: k, headers };
        const chunks = body
          .split("\n\n")
          .filter((event) => event.includes('"atoma.confidential.chunk"'))
          .slice(0, 2);
        const error = {
          message: "replayed",
          type: "invalid_request_error",
          param: null,
          code: "confidential_replayed",
        };
        return `${chunks.join("\n\n")}\n\ndata: ${JSON.stringify({ error })}\n\n`;
      };
      relay.statusOf = (status, path) => {
        if (path !== "/v1/chat/completions" || !refusing.delete(k)) return status;
        return 402;
      };
    }
    const operators = ready.nodes.map((_, k) =>
      userContext(network, loadKeyFile(join(stateDir, "nodes", `node-${k + 1}`, "node.key"))),
    );
    for (const [k, node] of ready.nodes.entries())
      await setNodeUrl(operators[k]!, { nodeId: BigInt(node.id), url: relays[k]!.url });
    try {
      const run = await cli([
        "chat",
        "--confidential",
        "--network",
        jsonFile,
        "--key-file",
        keyFile,
        "--max-tokens",
        "16",
        "Count to five.",
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(stage).toBe("done");
      // The cut was resent to the same node as the same signed request (the one refused), not sealed again at the
      // next nonce.
      expect(resent?.relay).toBe(cut?.relay);
      expect(resent?.headers[STACK_HEADERS.nonce]).toBe(cut?.headers[STACK_HEADERS.nonce]);
      expect(resent?.headers[STACK_HEADERS.signature]).toBe(cut?.headers[STACK_HEADERS.signature]);
      expect(run.stderr.split("\n").filter((line) => line === RESTART_LINE)).toHaveLength(1);
      expect(run.stderr).toMatch(/^verdict verified/m);
      // What was printed before the restart ends its line; the new answer has a line of its own.
      const lines = run.stdout.split("\n");
      expect(lines.length).toBe(3);
      expect(lines[1]!.length).toBeGreaterThan(0);
    } finally {
      for (const [k, node] of ready.nodes.entries())
        await setNodeUrl(operators[k]!, { nodeId: BigInt(node.id), url: node.url });
      await Promise.all(relays.map((relay) => relay.close()));
    }
  }, 180_000);

  it("refuses bad input with one line and a non-zero exit", async () => {
    const otherKey = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
    for (const [args, env, message] of [
      [["chat", "--network", jsonFile, "--key-file", keyFile, "  "], {}, /the prompt is empty/],
      [
        ["chat", "--network", jsonFile, "--key-file", keyFile, "--stack", "999", "x"],
        {},
        /there is no stack 999/,
      ],
      [
        ["chat", "--network", jsonFile, "--key-file", keyFile, "--max-tokens", "0", "x"],
        {},
        /--max-tokens must be/,
      ],
      [["chat", "--network", join(dir, "absent.json"), "--key-file", keyFile, "x"], {}, /cannot be read/],
      [["chat", "--network", keyFile, "--key-file", keyFile, "x"], {}, /is neither JSON nor holds a `ready/],
      [
        ["chat", "--network", jsonFile, "--stack", "1", "x"],
        { ATOMA_PRIVATE_KEY: otherKey },
        /belongs to 0x/,
      ],
      [["chat", "--network", jsonFile, "x"], { ATOMA_PRIVATE_KEY: "" }, /give --key-file/],
    ] as const) {
      const refused = await cli([...args], env);
      expect(refused.code, args.join(" ")).not.toBe(0);
      expect(refused.stderr, args.join(" ")).toMatch(message);
      expect(refused.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  }, 120_000);
});

describe("atoma chat --help", () => {
  it("prints every option with its default (bigint defaults too, as for stack buy)", async () => {
    for (const command of [["chat"], ["stack", "buy"]]) {
      const help = await cli([...command, "--help"]);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/--duration <seconds>.*\(default: 3600\)/);
    }
    const chat = await cli(["chat", "--help"]);
    expect(chat.stdout).toMatch(/--max-price <TOMA>[\s\S]*\(default: 10\)/);
  });
});
