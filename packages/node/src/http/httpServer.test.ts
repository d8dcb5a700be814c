import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BlobStore } from "../blobs/blobStore.js";
import { fetchBlob } from "../blobs/fetchBlob.js";
import { createHttpApp } from "./createHttpApp.js";
import type { OpenAiErrorBody } from "./errorResponse.js";
import { HttpServer } from "./httpServer.js";
import type { ServerState } from "./nodeEnv.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-http-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves the route `/test/slow` is waiting on. */
let releaseSlow: () => void = () => {};

async function startServer(shutdownTimeoutMs = 5_000) {
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
      ],
    },
  );
  const server = new HttpServer({ app, state }, { port: 0, shutdownTimeoutMs });
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
});
