import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { chatAt, type GatewayRun, startGatewayRun } from "./helpers/restartableGateway.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const postgres = testDatabases()[1]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const nodeKey = privateKeyToAccount(generatePrivateKey());
const streamBody = {
  model: "tiny",
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 400,
  stream: true,
};
const plain = { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue 12, scale out: a node cutting streams at two gateways over one PostgreSQL, fewer at each than the limit, was
// never put aside. The gateways count its cuts in their shared database.
describe.skipIf(postgres.skip)("a node that spreads its cuts over two gateways sharing a PostgreSQL", () => {
  let db: TestDatabaseConfig;
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let script: NodeScript = { kind: "honest" };
  const runs: GatewayRun[] = [];
  const errors: string[][] = [[], []];
  let key = "";

  beforeAll(async () => {
    db = postgres.make();
    node = await startFakeNode(
      nodeKey,
      1n,
      CHAIN_ID,
      STACK_MANAGER,
      (body) => (body.stream === true ? script : { kind: "honest" }),
      { strictNonces: true },
    );
    const options = { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000, cutLimit: 3 };
    const nodeAt = { url: node.url, signer: nodeKey, price: PRICE };
    // One wallet, as gateways sharing a database share it; a stack for each.
    const wallet = privateKeyToAccount(generatePrivateKey());
    runs.push(
      await startGatewayRun(db.config, wallet, nodeAt, options, errors[0]!, 1_000_000n, undefined, 1n),
    );
    runs.push(
      await startGatewayRun(db.config, wallet, nodeAt, options, errors[1]!, 1_000_000n, undefined, 2n),
    );
    key = (await runs[0]!.keys.create({ name: "shared", budget: "1" })).key;
  });
  afterAll(async () => {
    for (const run of runs) await run.stop();
    await node?.stop();
    await db?.dispose();
  });

  async function cutThenRead(at: GatewayRun) {
    const reads = node.leafReads.length;
    script = { kind: "cutThenFinish", finishMs: 1_500 };
    expect(await (await chatAt(at, key, streamBody)).text()).toContain("Hel");
    await sleep(1_700);
    script = { kind: "honest" };
    expect((await chatAt(at, key, plain)).status).toBe(200);
    expect(node.leafReads.slice(reads).map((read) => read.found)).toEqual([true]);
  }

  it("is put aside by the gateway that sees the third cut", async () => {
    await cutThenRead(runs[0]!);
    await cutThenRead(runs[0]!);
    expect(errors).toEqual([[], []]);
    await cutThenRead(runs[1]!);
    await expect.poll(() => errors[1], { timeout: 5_000 }).toContain("1:repeated_cuts");
    expect(runs[1]!.upstream.health.available(1n)).toBe(false);
  }, 120_000);
});
