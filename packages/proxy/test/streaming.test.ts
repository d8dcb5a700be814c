import { parseEther } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { NodeFailedError, NoNodeAvailableError } from "../src/errors.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, errorOf, sseEvents, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;
const STREAM = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 10, stream: true };

describe("streams through the gateway", () => {
  const gw = suiteGateway(embedded.make);
  let key: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "streams", budget: "1" })).key;
  });

  it("passes every chunk, then the usage with the node's atoma object unchanged, then [DONE]", async () => {
    gw.upstream.behaviour = () => ({ chunks: 3, units: 12 });
    const response = await chat(gw.app, key, STREAM);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("x-atoma-node")).toBe("7");
    const raw = await response.text();
    expect(raw.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const all = await sseEvents(new Response(raw));
    expect(all).toHaveLength(4);
    expect(all.at(-1)).toEqual({
      id: "x",
      object: "chat.completion.chunk",
      created: 1,
      model: "tiny",
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 11, total_tokens: 12 },
      atoma: expect.objectContaining({ node_id: "7", units: "12", signature: `0x${"33".repeat(65)}` }),
      atoma_request: STREAM,
    });
  });

  it("ends a stream that fails after its first chunk with an OpenAI-shaped error event, never a hang", async () => {
    gw.upstream.behaviour = () => ({ chunks: 2, fail: new NodeFailedError("node 7 failed the request") });
    const response = await chat(gw.app, key, STREAM);
    expect(response.status).toBe(200);
    const all = await sseEvents(response);
    expect(all.at(-1)).toEqual({
      error: { message: "node 7 failed the request", type: "server_error", param: null, code: "node_failed" },
    });
    await expect
      .poll(async () => (await gw.keys.list()).find((k) => k.name === "streams")?.reserved)
      .toBe("0");
  });

  it("answers a refusal before the first chunk with its status, not a 200 stream", async () => {
    gw.upstream.behaviour = () => ({
      chunks: 0,
      fail: new NoNodeAvailableError("no node serves the model now"),
    });
    for (const body of [STREAM, { ...STREAM, stream: false }]) {
      const response = await chat(gw.app, key, body);
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      expect(await errorOf(response)).toMatchObject({ code: "no_node_available", type: "server_error" });
    }
  });

  // Review 3: answer text reached the client under a signed request, and no receipt came: the node can still
  // settle that leaf (up to the signed bound), so the key keeps its reservation charged rather than nothing.
  it("stops the request at the node when the client leaves mid-stream, and keeps the reservation charged", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    gw.upstream.behaviour = () => ({ chunks: 1, hold });
    const before = gw.upstream.sent.length;
    const spentBefore = (await gw.keys.list()).find((k) => k.name === "streams")!.spent;
    const response = await chat(gw.app, key, STREAM);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(gw.upstream.sent[before]?.signal.aborted).toBe(true);
    release();
    await expect
      .poll(async () => (await gw.keys.list()).find((k) => k.name === "streams")?.reserved)
      .toBe("0");
    const spent = parseEther((await gw.keys.list()).find((k) => k.name === "streams")!.spent);
    expect(spent).toBeGreaterThan(parseEther(spentBefore));
  });

  it("keeps a failed stream's reservation charged once its text reached the client, and charges nothing before", async () => {
    const spentOf = async () => parseEther((await gw.keys.list()).find((k) => k.name === "streams")!.spent);
    const before = await spentOf();
    gw.upstream.behaviour = () => ({ chunks: 0, fail: new NodeFailedError("node 7 failed the request") });
    expect((await chat(gw.app, key, STREAM)).status).toBe(502);
    expect(await spentOf()).toBe(before);
    gw.upstream.behaviour = () => ({ chunks: 2, fail: new NodeFailedError("node 7 withheld its receipt") });
    await sseEvents(await chat(gw.app, key, STREAM));
    await expect.poll(spentOf).toBeGreaterThan(before);
  });
});

describe("who served, on the wire", () => {
  const gw = suiteGateway(embedded.make);

  it("names the node and whether a fallback fired, streamed and not", async () => {
    const { key } = await gw.keys.create({ name: "headers" });
    const send = gw.upstream.send.bind(gw.upstream);
    gw.upstream.send = async (request) => {
      const answer = await send({
        ...request,
        onChunk: request.onChunk && ((chunk, nodeId) => request.onChunk?.(chunk, nodeId, true)),
      });
      return { ...answer, fallback: true };
    };
    const plain = await chat(gw.app, key);
    expect(plain.headers.get("x-atoma-node")).toBe("7");
    expect(plain.headers.get("x-atoma-fallback")).toBe("true");
    const stream = await chat(gw.app, key, STREAM);
    expect(stream.headers.get("x-atoma-fallback")).toBe("true");
    await stream.text();
    gw.upstream.send = send;
    expect((await chat(gw.app, key)).headers.get("x-atoma-fallback")).toBe("false");
  });
});
