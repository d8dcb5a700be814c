import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const gateway = privateKeyToAccount(generatePrivateKey());
const keys = Array.from({ length: 5 }, () => privateKeyToAccount(generatePrivateKey()));

// Amplification: one small client request must not make the gateway send its body upstream many times over (each
// node tried, each of them resent after a broken connection, each stack refused bought again).
describe("work upstream for one client request", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let nodes: Awaited<ReturnType<typeof startFakeNode>>[];
  let script: NodeScript = { kind: "drop" };
  /** A node's own script, over `script` when set. */
  let perNode: ((i: number) => NodeScript) | undefined;

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    nodes = await Promise.all(
      keys.map((key, i) =>
        startFakeNode(key, BigInt(i + 1), RIG_CHAIN_ID, RIG_STACK_MANAGER, () => perNode?.(i) ?? script),
      ),
    );
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.stop();
    await opened?.close();
    await db?.dispose();
  });

  const rig = () => {
    perNode = undefined;
    for (const node of nodes) {
      node.requests.length = 0;
      node.reset();
    }
    return upstreamRig(
      opened,
      gateway,
      nodes.map((node, i) => ({ url: node.url, signer: keys[i]!, price: BigInt(i + 1) })),
      { resendDelayMs: 5, cooldownMs: 60_000, nodesPerRequest: 5, resends: 2 },
    );
  };
  const sent = () => nodes.reduce((sum, node) => sum + node.requests.length, 0);
  const body = (content: string) => ({
    model: "tiny",
    messages: [{ role: "user", content }],
    max_tokens: 4,
  });

  it("sends one request's body upstream at most sendsPerRequest times, whatever fails", async () => {
    script = { kind: "drop" };
    const { upstream } = await rig();
    await expect(
      upstream.send({
        endpoint: "chat",
        model: "tiny",
        body: body("x".repeat(100_000)),
        stream: false,
        maxUnits: 100n,
        signal: new AbortController().signal,
      }),
    ).rejects.toBeDefined();
    // Default cap: 4 sends in all (first sends and resends, every node), not nodes × (1 + resends).
    expect(sent()).toBeLessThanOrEqual(4);
    expect(sent()).toBeGreaterThan(1);
  });

  it("still fails over to a node that serves within the cap", async () => {
    const { upstream } = await rig();
    // The two cheapest nodes break every connection; the third serves.
    script = { kind: "honest" };
    perNode = (i) => (i < 2 ? { kind: "drop" } : { kind: "honest" });
    const answer = await upstream.send({
      endpoint: "chat",
      model: "tiny",
      body: body("hi"),
      stream: false,
      maxUnits: 100n,
      signal: new AbortController().signal,
    });
    expect(answer.nodeId).toBe(3n);
    expect(sent()).toBeLessThanOrEqual(4);
  });
});
