import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { getStack } from "../src/accounting/stacks.js";
import { parseNodeConfig } from "../src/config/loadConfig.js";
import { ChainUnavailableError, KeyFilePermissionError } from "../src/errors.js";
import { writeDevKeyFile } from "../src/keys/keyFile.js";
import { eventSource } from "../src/listener/eventSource.js";
import { type AtomaNode, createNode } from "../src/service/createNode.js";
import type { NodePartFactory } from "../src/service/nodePart.js";
import { addStack } from "./helpers/stacks.js";
import { atomaTokenAbi, startTokenChain, type TokenChain } from "./helpers/tokenChain.js";

const root = mkdtempSync(join(tmpdir(), "atoma-node-"));
let chain: TokenChain;
let keyFile: string;
let address: string;

beforeAll(async () => {
  chain = await startTokenChain();
  keyFile = join(root, "keys", "node.key");
  address = (await writeDevKeyFile(keyFile)).address;
});
afterAll(async () => {
  await chain?.anvil.stop();
  rmSync(root, { recursive: true, force: true });
});

const started: AtomaNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((node) => node.stop()));
});

/** A port free right now, so the test knows where the node will listen before it does. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function config(overrides: { chainId?: number; dataDir?: string; port?: number } = {}) {
  return parseNodeConfig(
    {
      chain: {
        rpcUrl: chain.anvil.rpcUrl,
        chainId: overrides.chainId ?? chain.anvil.chainId,
        ...(overrides.chainId === undefined ? {} : { confirmations: 1 }),
        contracts: { AtomaToken: chain.token },
        pollingIntervalMs: 20,
      },
      node: {
        keyFile,
        port: overrides.port ?? 0,
        dataDir: overrides.dataDir ?? join(root, "data"),
        shutdownTimeoutMs: 2_000,
      },
      model: { path: "models/tiny.gguf" },
    },
    root,
  );
}

/** Where each lifecycle event happened, to check the order of start and stop. */
const events: string[] = [];

/** A part like the ones to come: it handles Transfer events in the listener's transaction and serves a route. */
const transferCounter: NodePartFactory = async (context) => {
  await sql`create table if not exists test_transfers (tx_hash text, log_index integer)`.execute(context.db);
  return {
    name: "transfer-counter",
    eventSources: [
      eventSource({
        name: "transfer-counter",
        address: chain.token,
        abi: atomaTokenAbi,
        handlers: {
          Transfer: async (event, { db }) => {
            await sql`insert into test_transfers values (${event.transactionHash}, ${event.logIndex})`.execute(
              db,
            );
          },
        },
      }),
    ],
    routes: (app) =>
      app.get("/test/transfers", async (c) => {
        const { rows } = await sql<{ count: bigint }>`select count(*) as count from test_transfers`.execute(
          context.db,
        );
        return c.json({ count: Number(rows[0]?.count) });
      }),
    async start() {
      events.push(`part start, http up: ${await answers(context.config.node.port)}`);
    },
    async stop() {
      const { rows } = await sql<{ one: number | bigint }>`select 1 as one`.execute(context.db);
      events.push(
        `part stop, http up: ${await answers(context.config.node.port)}, database usable: ${Number(rows[0]?.one) === 1}`,
      );
    },
  };
};

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    if (port === 0) return resolve(false);
    get(`http://127.0.0.1:${port}/health`, { agent: false }, (res) => {
      res.resume();
      resolve(true);
    }).on("error", () => resolve(false));
  });

async function transfersSeen(node: AtomaNode): Promise<number> {
  return ((await (await fetch(`${node.url}/test/transfers`)).json()) as { count: number }).count;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("createNode", () => {
  it("starts the infrastructure in order, serves, follows the chain, and stops in reverse", async () => {
    const port = await freePort();
    const node = createNode({ parts: [transferCounter] }, config({ port }));
    started.push(node);
    await node.start();
    expect(events).toEqual(["part start, http up: false"]);
    expect(await answers(port)).toBe(true);

    const health = await fetch(`${node.url}/health`);
    expect(await health.json()).toEqual({ status: "ok", checks: { database: "ok", chain: "ok" } });
    const models = (await (await fetch(`${node.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((model) => model.id)).toEqual(["tiny"]);

    for (let i = 0; i < 5; i++) await chain.transfer(BigInt(i + 1));
    await waitFor(async () => (await transfersSeen(node)) === 6); // the mint and 5 transfers

    await addStack(node.context.db, { stackId: 9_001n });
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toContain('atoma_node_stacks{state="active"} 1');
    expect(metrics).toContain("atoma_node_chain_events_total");

    const url = node.url;
    await node.stop();
    expect(events).toEqual([
      "part start, http up: false",
      "part stop, http up: false, database usable: true",
    ]);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it("resumes over the same data after a restart, handling no event twice", async () => {
    const dataDir = join(root, "restart");
    const allTransfers = () =>
      chain.publicClient.getContractEvents({
        address: chain.token,
        abi: atomaTokenAbi,
        eventName: "Transfer",
        fromBlock: 0n,
      });
    const first = createNode({ parts: [transferCounter] }, config({ dataDir }));
    await first.start();
    const before = (await allTransfers()).length;
    await waitFor(async () => (await transfersSeen(first)) === before);
    await addStack(first.context.db, { stackId: 9_002n });
    await first.stop();

    for (let i = 0; i < 3; i++) await chain.transfer(100n + BigInt(i));
    const second = createNode({ parts: [transferCounter] }, config({ dataDir }));
    started.push(second);
    await second.start();
    const onChain = await allTransfers();
    expect(onChain.length).toBe(before + 3);
    await waitFor(async () => (await transfersSeen(second)) === onChain.length);
    const { rows } = await sql<{
      n: bigint;
    }>`select count(*) as n from (select distinct tx_hash, log_index from test_transfers) as seen`.execute(
      second.context.db,
    );
    expect(Number(rows[0]?.n)).toBe(onChain.length);
    expect(await getStack(second.context.db, 9_002n)).toBeDefined();
  });

  it("refuses to start on the wrong chain, leaving nothing behind", async () => {
    const dataDir = join(root, "wrong-chain");
    const node = createNode({}, config({ chainId: 1, dataDir }));
    await expect(node.start()).rejects.toThrow(ChainUnavailableError);
    await expect(node.start()).rejects.toThrow(/is chain 31337, but chain.chainId is 1/);
    const good = createNode({}, config({ dataDir }));
    started.push(good);
    await good.start();
    expect((await fetch(`${good.url}/health`)).status).toBe(200);
  });

  it("refuses a key file others can read, before touching anything", async () => {
    chmodSync(keyFile, 0o644);
    try {
      await expect(createNode({}, config({ dataDir: join(root, "open-key") })).start()).rejects.toThrow(
        KeyFilePermissionError,
      );
    } finally {
      chmodSync(keyFile, 0o600);
    }
    const node = createNode({}, config({ dataDir: join(root, "open-key") }));
    started.push(node);
    await node.start();
    expect(node.context.account.address).toBe(address);
  });
});
