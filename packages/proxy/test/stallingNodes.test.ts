import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import type { NetworkUpstreamOptions } from "../src/network/networkUpstream.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const gateway = privateKeyToAccount(generatePrivateKey());
const keys = [privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey())];

/** A node that answers 200 at once, flushes its headers (and an SSE comment), then sends nothing more. */
async function stallingNode(
  contentType: string,
  first = contentType === "text/event-stream" ? ": ping\n\n" : "",
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": contentType });
    res.flushHeaders();
    if (first) res.write(first);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

// Review of issue 12, MEDIUM-1: the first-byte timer stopped at the response headers, so a node that sent headers
// and then nothing held each request until the 5-minute deadline, and the loop then tried the next node on the
// aborted deadline: the honest node, never contacted, was put aside.
describe("nodes that send headers and then nothing", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let honest: Awaited<ReturnType<typeof startFakeNode>>;
  const servers: Server[] = [];

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    honest = await startFakeNode(keys[1]!, 2n, RIG_CHAIN_ID, RIG_STACK_MANAGER, () => ({ kind: "honest" }));
  });
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await honest?.stop();
    await opened?.close();
    await db?.dispose();
  });

  const rig = async (contentType: string, options: NetworkUpstreamOptions, first?: string) => {
    const stall = await stallingNode(contentType, first);
    servers.push(stall.server);
    honest.requests.length = 0;
    honest.reset();
    return upstreamRig(
      opened,
      gateway,
      [
        { url: stall.url, signer: keys[0]!, price: 1n },
        { url: honest.url, signer: keys[1]!, price: 2n },
      ],
      { resendDelayMs: 10, resends: 0, cooldownMs: 60_000, ...options },
    );
  };
  const request = (stream: boolean) => ({
    endpoint: "chat" as const,
    model: "tiny",
    body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4, stream },
    stream,
    maxUnits: 100n,
    signal: new AbortController().signal,
  });

  for (const [what, contentType, stream] of [
    ["a JSON answer", "application/json", false],
    ["an event stream (one comment)", "text/event-stream", true],
  ] as const)
    it(`falls back within the first-byte timeout when ${what} stalls after its headers`, async () => {
      const { upstream, health } = await rig(contentType, {
        firstByteTimeoutMs: 1_000,
        requestTimeoutMs: 20_000,
      });
      const started = Date.now();
      const answer = await upstream.send(request(stream));
      expect(answer).toMatchObject({ nodeId: 2n, fallback: true });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(health.available(1n)).toBe(false);
      expect(health.available(2n)).toBe(true);
    });

  it("blames only the node that stalled when the request's deadline ends it, never one not contacted", async () => {
    const { upstream, health } = await rig("application/json", {
      firstByteTimeoutMs: 10_000,
      requestTimeoutMs: 1_500,
    });
    await expect(upstream.send(request(false))).rejects.toBeDefined();
    expect(honest.requests).toHaveLength(0);
    expect(health.available(2n)).toBe(true);
  });

  it("ends a stream that stalls after its first chunk within the timeout, never holding it to the deadline", async () => {
    const chunk = {
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "tiny",
      choices: [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }],
    };
    const { upstream, health } = await rig(
      "text/event-stream",
      { firstByteTimeoutMs: 1_000, requestTimeoutMs: 20_000 },
      `data: ${JSON.stringify(chunk)}\n\n`,
    );
    const relayed: unknown[] = [];
    const started = Date.now();
    await expect(upstream.send({ ...request(true), onChunk: (c) => relayed.push(c) })).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(relayed).toHaveLength(1);
    // Bytes reached the client: no fallback, and the node that stalled is put aside.
    expect(honest.requests).toHaveLength(0);
    expect(health.available(1n)).toBe(false);
  });
});
