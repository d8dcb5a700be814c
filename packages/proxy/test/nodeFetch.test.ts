import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AnswerTooLargeError, readJsonCapped } from "@atoma/sdk";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { NodeRedirectError, nodeFetch } from "../src/network/nodeFetch.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => handler(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("nodeFetch: the gateway's calls to nodes over undici's request", () => {
  it("sends the method, headers and body as given and answers as fetch would, asking for no compression", async () => {
    let seen: { method?: string; headers?: IncomingMessage["headers"]; body?: string } = {};
    const url = await listen((req, res, body) => {
      seen = { method: req.method ?? "", headers: req.headers, body };
      res.writeHead(201, { "content-type": "application/json", "x-atoma-node": "7" });
      res.end(JSON.stringify({ echoed: JSON.parse(body) }));
    });
    const answer = await nodeFetch(new URL("/v1/chat/completions", url), {
      method: "POST",
      headers: { "content-type": "application/json", "x-atoma-nonce": "3" },
      body: JSON.stringify({ model: "m" }),
      redirect: "error",
    });
    expect(seen.method).toBe("POST");
    expect(seen.headers?.["x-atoma-nonce"]).toBe("3");
    // A node may compress only when asked: the bytes the SDK reads and verifies are the ones the node wrote.
    expect(seen.headers?.["accept-encoding"]).toBeUndefined();
    expect(seen.body).toBe('{"model":"m"}');
    expect(answer.status).toBe(201);
    expect(answer.ok).toBe(true);
    expect(answer.headers.get("x-atoma-node")).toBe("7");
    expect(await answer.json()).toEqual({ echoed: { model: "m" } });
  });

  it("refuses a node's redirect and never sends the signed request where it points", async () => {
    let elsewhereCalled = false;
    const elsewhere = await listen((_req, res) => {
      elsewhereCalled = true;
      res.end("{}");
    });
    for (const status of [301, 302, 303, 307, 308]) {
      const url = await listen((_req, res) => {
        res.writeHead(status, { location: `${elsewhere}/v1/chat/completions` });
        res.end();
      });
      await expect(
        nodeFetch(`${url}/v1/chat/completions`, { method: "POST", body: "{}", redirect: "error" }),
      ).rejects.toBeInstanceOf(NodeRedirectError);
    }
    expect(elsewhereCalled).toBe(false);
  });

  it("passes a stream chunk by chunk as it comes, and an abort mid-stream ends it and closes the connection", async () => {
    let release: (() => void) | undefined;
    let closed = false;
    const url = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      res.on("close", () => {
        closed = true;
      });
      release = () => res.write("data: two\n\n");
    });
    const abort = new AbortController();
    const answer = await nodeFetch(url, { method: "POST", body: "{}", signal: abort.signal });
    const reader = answer.body!.getReader();
    const first = await reader.read();
    // The first chunk arrives while the node still holds the stream open.
    expect(new TextDecoder().decode(first.value)).toBe("data: one\n\n");
    release?.();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: two\n\n");
    abort.abort(new Error("client gone"));
    await expect(reader.read()).rejects.toThrow();
    await expect.poll(() => closed, { timeout: 5_000 }).toBe(true);
  });

  it("gives a bodiless status a null body, and goes through the dispatcher it is given", async () => {
    const url = await listen((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    let dispatched = 0;
    const agent = new Agent();
    const counting = agent.compose((dispatch) => (options, handler) => {
      dispatched++;
      return dispatch(options, handler);
    });
    const answer = await nodeFetch(url, { method: "POST", body: "{}", dispatcher: counting });
    expect(answer.status).toBe(204);
    expect(answer.body).toBeNull();
    expect(dispatched).toBe(1);
    await agent.close();
  });

  it("hands over a body that came whole with its headers as the node wrote it, call after call", async () => {
    const answer = JSON.stringify({ id: "cmpl-1", choices: [{ text: " once" }], atoma: { units: "6" } });
    const url = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    });
    const agent = new Agent();
    for (let call = 0; call < 3; call++) {
      const got = await nodeFetch(url, { method: "POST", body: "{}", dispatcher: agent });
      expect(got.headers.get("content-length")).toBe(String(Buffer.byteLength(answer)));
      const reader = got.body!.getReader();
      const first = await reader.read();
      // One chunk: the whole body as the node wrote it.
      expect(new TextDecoder().decode(first.value)).toBe(answer);
      expect((await reader.read()).done).toBe(true);
    }
    await agent.close();
  });

  it("streams a declared body that is still arriving: returned at the headers, the rest as it comes", async () => {
    const answer = JSON.stringify({ text: "x".repeat(2_000) });
    let sendRest: (() => void) | undefined;
    const url = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.write(answer.slice(0, 1_000));
      sendRest = () => res.end(answer.slice(1_000));
    });
    const got = await nodeFetch(url, { method: "POST", body: "{}" });
    // The node holds the rest back: nodeFetch answered at the headers, as before (the first-byte timeout ends there).
    expect(sendRest).toBeDefined();
    const text = got.text();
    sendRest?.();
    expect(await text).toBe(answer);
  });

  it("keeps the SDK's size cap on a body handed over whole: a node's answer over it is refused", async () => {
    const answer = JSON.stringify({ text: "x".repeat(4_000) });
    const url = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    });
    const got = await nodeFetch(url, { method: "POST", body: "{}" });
    await expect(readJsonCapped(got, 1_024)).rejects.toBeInstanceOf(AnswerTooLargeError);
    const small = await nodeFetch(url, { method: "POST", body: "{}" });
    expect(await readJsonCapped(small, 8_192)).toEqual(JSON.parse(answer));
  });
});
