import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BlobStore } from "../blobs/blobStore.js";
import { fetchBlob } from "../blobs/fetchBlob.js";
import { createHttpApp } from "./createHttpApp.js";
import { closeUnlessDeliveredWithin } from "./deliveryDeadline.js";
import type { OpenAiErrorBody } from "./errorResponse.js";
import { HttpServer } from "./httpServer.js";
import type { ServerState } from "./nodeEnv.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-http-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves the route `/test/slow` is waiting on. */
let releaseSlow: () => void = () => {};

/** A body of `bytes` zero bytes in 64 KiB chunks, queued all at once. */
function bigBody(bytes: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let sent = 0; sent < bytes; sent += 65_536) controller.enqueue(new Uint8Array(65_536));
      controller.close();
    },
  });
}

async function startServer(shutdownTimeoutMs = 5_000, idleTimeoutMs?: number) {
  const blobs = new BlobStore({}, { dir });
  await blobs.start();
  const state: ServerState = { draining: false };
  const app = createHttpApp(
    { blobs, state, models: { listModels: () => [] } },
    {
      maxBodyBytes: 1_024,
      routes: [
        (a) =>
          a.get("/test/slow", async (c) => {
            await new Promise<void>((resolve) => {
              releaseSlow = resolve;
            });
            return c.json({ done: true });
          }),
        (a) =>
          a.get("/test/stream", (c) => {
            let sent = 0;
            const stream = new ReadableStream<Uint8Array>({
              async pull(controller) {
                await new Promise((resolve) => setTimeout(resolve, 40));
                if (sent++ === 10) controller.close();
                else controller.enqueue(new TextEncoder().encode(`data: ${sent}\n\n`));
              },
            });
            return c.body(stream, 200, { "content-type": "text/event-stream" });
          }),
        (a) => a.get("/test/big", (c) => c.body(bigBody(BIG), 200)),
        (a) =>
          a.get("/test/deliver", (c) => {
            const response = c.body(bigBody(Number(c.req.query("bytes"))), 200);
            closeUnlessDeliveredWithin(c, 300);
            return response;
          }),
      ],
    },
  );
  const server = new HttpServer({ app, state }, { port: 0, shutdownTimeoutMs, idleTimeoutMs });
  await server.start();
  running.push(server);
  return { server, blobs, state };
}

const running: HttpServer[] = [];
afterEach(async () => {
  releaseSlow();
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

/** A GET on a fresh connection (no keep-alive pool), resolving to status and body or rejecting. */
function freshGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

/** Far more than loopback socket buffers hold (a few MiB), so a client that reads nothing stalls the server. */
const BIG = 24 * 1_048_576;

/** Sends a GET on a raw socket that never reads a byte of the answer. */
function neverReading(url: string, path: string): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
  return socket;
}

const waitFor = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe("HttpServer over a real socket", () => {
  it("serves the API and blobs that a fetching attester verifies", async () => {
    const { server, blobs } = await startServer();
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    const data = new TextEncoder().encode("owner-signed requests");
    const { id } = await blobs.put(data);
    expect(await fetchBlob(server.url, id)).toEqual(data);
    const missing = await fetch(`${server.url}/v1/blobs/0x${"00".repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as OpenAiErrorBody).error.code).toBe("blob_not_found");
  });

  it("lets a request in flight finish during shutdown while refusing new connections", async () => {
    const { server } = await startServer();
    const url = server.url;
    const slow = freshGet(`${url}/test/slow`);
    await waitFor(() => server.inFlight === 1);
    const stopped = server.stop();
    let stopDone = false;
    void stopped.then(() => {
      stopDone = true;
    });
    await expect(freshGet(`${url}/health`)).rejects.toThrow(/ECONNREFUSED/);
    expect(stopDone).toBe(false);
    releaseSlow();
    expect(await slow).toEqual({ status: 200, body: '{"done":true}' });
    await stopped;
    expect(server.inFlight).toBe(0);
  });

  it("drains a streaming response to its last event", async () => {
    const { server } = await startServer();
    const streaming = freshGet(`${server.url}/test/stream`);
    await waitFor(() => server.inFlight === 1);
    await server.stop();
    const { status, body } = await streaming;
    expect(status).toBe(200);
    expect(body.match(/data: \d+/g)).toHaveLength(10);
  });

  it("cuts requests still running when the shutdown timeout passes", async () => {
    const { server } = await startServer(200);
    const slow = freshGet(`${server.url}/test/slow`);
    await waitFor(() => server.inFlight === 1);
    await server.stop();
    await expect(slow).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it("answers 503 on a kept-alive connection once draining", async () => {
    const { server, state } = await startServer();
    state.draining = true;
    const response = await fetch(`${server.url}/v1/models`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: {
        message: "the node is shutting down",
        type: "server_error",
        param: null,
        code: "shutting_down",
      },
    });
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "draining", checks: {} });
    state.draining = false;
  });

  it("closes the connection of a client that stops reading, never of one the server is still working for", async () => {
    const { server } = await startServer(5_000, 300);
    const slow = freshGet(`${server.url}/test/slow`);
    const stalled = neverReading(server.url, "/test/big");
    await waitFor(() => server.inFlight === 2);
    // The stalled client's response goes; the slow one (nothing queued for its client) stays.
    await waitFor(() => server.inFlight === 1);
    releaseSlow();
    expect(await slow).toEqual({ status: 200, body: '{"done":true}' });
    const read = await fetch(`${server.url}/test/big`);
    expect((await read.arrayBuffer()).byteLength).toBe(BIG);
    stalled.destroy();
  });

  it("closes a connection whose complete answer is not taken within the delivery window", async () => {
    const { server } = await startServer(5_000, 60_000);
    const stalled = neverReading(server.url, `/test/deliver?bytes=${BIG}`);
    await waitFor(() => server.inFlight === 1);
    await waitFor(() => server.inFlight === 0);
    const small = await fetch(`${server.url}/test/deliver?bytes=65536`);
    expect((await small.arrayBuffer()).byteLength).toBe(65_536);
    stalled.destroy();
  });
});
