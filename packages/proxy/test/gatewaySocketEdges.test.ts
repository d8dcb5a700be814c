import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayServer } from "../src/gateway/gatewayServer.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;
const LIMIT = 64 * 1024; // testGateway's maxBodyBytes

/** One raw HTTP/1.1 exchange: what the client writes, and the status line and headers it gets back. */
function raw(url: string, head: string, body?: () => AsyncIterable<string>): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString();
      if (answer.includes("\r\n\r\n")) {
        socket.destroy();
        resolve(answer.slice(0, answer.indexOf("\r\n\r\n")));
      }
    });
    socket.on("error", (error) => (answer.includes("\r\n\r\n") ? undefined : reject(error)));
    socket.write(head);
    if (body)
      void (async () => {
        for await (const part of body()) if (!socket.destroyed) socket.write(part);
      })();
  });
}

describe("the gateway on a real socket: body bounds and browser headers", () => {
  const gw = suiteGateway(embedded.make);
  let server: GatewayServer;
  let key: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "socket" })).key;
    server = new GatewayServer(gw.app, { draining: false });
    await server.start();
  });
  afterAll(() => server?.stop());

  const chatBody = JSON.stringify({
    model: "tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 5,
  });

  it("serves a body of declared length, and a page may read the answer and the node that served it", async () => {
    const answer = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, origin: "http://page" },
      body: chatBody,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(answer.headers.get("access-control-expose-headers")).toBe(
      "retry-after,x-atoma-node,x-atoma-fallback",
    );
    expect(answer.headers.get("x-atoma-node")).toBeDefined();
    expect(((await answer.json()) as { choices: unknown[] }).choices).toHaveLength(1);
  });

  it("gives a page its error answers too (a refused key), OpenAI-shaped", async () => {
    const answer = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-atoma-wrong" },
      body: chatBody,
    });
    expect(answer.status).toBe(401);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
  });

  it("refuses a declared length past the limit before a byte of the body is sent", async () => {
    const sentBefore = gw.upstream.sent.length;
    const head = await raw(
      server.url,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`,
    );
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head.toLowerCase()).toContain("access-control-allow-origin: *");
    expect(gw.upstream.sent).toHaveLength(sentBefore);
  });

  it("counts a chunked body as it comes and refuses it past the limit, whatever it does not declare", async () => {
    const sentBefore = gw.upstream.sent.length;
    const head = await raw(
      server.url,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\ntransfer-encoding: chunked\r\n\r\n`,
      async function* () {
        const chunk = "x".repeat(16 * 1024);
        // Far past the limit, then never ended: the refusal must not wait for the end.
        for (let i = 0; i < 16; i++) yield `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
      },
    );
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(gw.upstream.sent).toHaveLength(sentBefore);
  });

  it("does not take a content-length beside a chunked encoding as the body's size", async () => {
    // Node refuses the pair outright (request smuggling), before the gateway sees it.
    const head = await raw(
      server.url,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\ncontent-length: 10\r\ntransfer-encoding: chunked\r\n\r\n`,
      async function* () {
        const chunk = "x".repeat(16 * 1024);
        for (let i = 0; i < 16; i++) yield `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
      },
    );
    expect(head).toMatch(/^HTTP\/1\.1 4(00|13) /);
  });
});
