import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import type { NetworkUpstream } from "../src/network/networkUpstream.js";
import type { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKeys = [privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey())];
const honest: NodeScript = { kind: "honest" };
const TOOLS = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];

// Review of issue 12, HIGH-1: a node answering 400 to every request was never measured (only successes are), so it
// scored best for good, took almost all the traffic, and every request it took failed with a 400 the client does
// not retry. Node 1 here is the cheaper one (its choice), routed with the default health book.
describe("nodes that refuse requests other nodes serve", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const scripts: ((body: Record<string, unknown>) => NodeScript)[] = [() => honest, () => honest];
  let nodes: Awaited<ReturnType<typeof startFakeNode>>[];
  let upstream: NetworkUpstream;
  let health: NodeHealthBook;

  const send = (extra: Record<string, unknown> = {}, keyId = "user") =>
    upstream.send({
      keyId,
      endpoint: "chat",
      model: "tiny",
      body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4, ...extra },
      stream: false,
      maxUnits: 100n,
      signal: new AbortController().signal,
    });

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    nodes = await Promise.all(
      nodeKeys.map((key, i) =>
        startFakeNode(key, BigInt(i + 1), RIG_CHAIN_ID, RIG_STACK_MANAGER, (body) => scripts[i]!(body)),
      ),
    );
  });
  beforeEach(async () => {
    ({ upstream, health } = await upstreamRig(
      opened,
      gateway,
      nodes.map((node, i) => ({ url: node.url, signer: nodeKeys[i]!, price: BigInt(i + 1) })),
      { firstByteTimeoutMs: 10_000, cooldownMs: 60_000, resendDelayMs: 10 },
    ));
    scripts[0] = () => honest;
    scripts[1] = () => honest;
    for (const node of nodes) {
      node.reset();
      node.requests.length = 0;
    }
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("serves every request at the honest node when one answers 400 to all, and puts the refuser aside", async () => {
    scripts[0] = () => ({ kind: "refuse", status: 400, code: "invalid_input" });
    const served: bigint[] = [];
    for (let i = 0; i < 20; i++) served.push((await send({}, `key ${i}`)).nodeId);
    expect(served).toEqual(Array(20).fill(2n));
    // Three refusals in a row, of three keys' requests node 2 served, then it is put aside.
    expect(nodes[0]!.requests).toHaveLength(3);
    expect(health.available(1n)).toBe(false);
    expect(health.observation(1n).uptime).toBeLessThan(1);
  });

  it("sends requests with tools past a node that refuses them as unsupported, and plain ones still to it", async () => {
    scripts[0] = (body) => (body.tools ? { kind: "refuse", status: 400, code: "invalid_input" } : honest);
    for (let i = 0; i < 10; i++) expect((await send({ tools: TOOLS })).nodeId).toBe(2n);
    // Asked once: later tool requests skip it, never put aside for what it does serve.
    expect(nodes[0]!.requests.filter((body) => body.tools)).toHaveLength(1);
    expect(health.available(1n)).toBe(true);
    expect((await send()).nodeId).toBe(1n);
  });

  // Review speed-gwfix B-3: one user's inputs over one node's own limits put that honest node aside for everyone.
  it("does not put a node aside for everyone over one key's requests past its own limits", async () => {
    // Node 1 honestly refuses a request over its own limit (say its max_model_len), node 2 has a larger one.
    scripts[0] = (body) =>
      Number(body.max_tokens) > 100 ? { kind: "refuse", status: 400, code: "invalid_input" } : honest;
    for (let i = 0; i < 3; i++)
      expect((await send({ max_tokens: 200, provider: undefined })).nodeId).toBe(2n);
    // Everyone else's ordinary requests: node 1 serves them fine, and is still in rotation for them.
    expect(health.available(1n)).toBe(true);
    expect((await send({}, "another user")).nodeId).toBe(1n);
  });

  // Put-aside griefing: an attacker with three keys (free to create on an open gateway) sends inputs over an honest
  // node's own limits (its context length, answered `invalid_input` as the engine's `context_length_exceeded` is), which
  // a larger node serves: three keys' refusals in a row put the honest node aside for everyone.
  it("does not put an honest node aside over three keys' requests past its own limits", async () => {
    scripts[0] = (body) =>
      JSON.stringify(body).length > 4_000 ? { kind: "refuse", status: 400, code: "invalid_input" } : honest;
    const long = { messages: [{ role: "user", content: "x".repeat(8_000) }] };
    for (let i = 0; i < 6; i++) expect((await send(long, `griefer ${i}`)).nodeId).toBe(2n);
    expect(health.available(1n)).toBe(true);
    // Asked once: later requests that large skip it (it told its limit), ordinary ones still go to it.
    expect(nodes[0]!.requests).toHaveLength(1);
    expect((await send({}, "another user")).nodeId).toBe(1n);
    // A node that refuses a request no larger than one it served is not at its limit: that counts against it.
    scripts[0] = () => ({ kind: "refuse", status: 400, code: "invalid_input" });
    for (let i = 0; i < 3; i++) expect((await send({}, `victim ${i}`)).nodeId).toBe(2n);
    expect(health.available(1n)).toBe(false);
  });

  it("passes the client's own mistake (every node refuses it) as it is, counting it against no node", async () => {
    scripts[0] = () => ({ kind: "refuse", status: 400, code: "invalid_input" });
    scripts[1] = () => ({ kind: "refuse", status: 400, code: "invalid_input" });
    for (let i = 0; i < 6; i++)
      await expect(send()).rejects.toMatchObject({ status: 400, code: "invalid_input" });
    expect(health.available(1n)).toBe(true);
    expect(health.available(2n)).toBe(true);
    scripts[0] = () => honest;
    expect((await send()).nodeId).toBe(1n);
  });

  // Review of issue 12, LOW-2: a lone UTF-16 surrogate failed the gateway's own signing, reported as node 1's 502.
  it("refuses text that is not valid Unicode as the client's 400, before any node, blaming none", async () => {
    await expect(send({ messages: [{ role: "user", content: "a\ud800b" }] })).rejects.toMatchObject({
      code: "invalid_input",
    });
    expect(nodes[0]!.requests).toHaveLength(0);
    expect(nodes[1]!.requests).toHaveLength(0);
    expect(health.observation(1n).uptime).toBe(1);
  });

  // LOW-5: a node's 401 passed through as `invalid_api_key`, so the client blamed its own key.
  it("never passes a node's 401 as the client's invalid_api_key", async () => {
    scripts[0] = () => ({ kind: "refuse", status: 401, code: "invalid_api_key" });
    scripts[1] = () => ({ kind: "refuse", status: 401, code: "invalid_api_key" });
    await expect(send()).rejects.toMatchObject({ code: "node_failed" });
  });
});
