import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AtomaError } from "@atoma/core";
import type { EmbeddedEngine } from "../../src/embedded/EmbeddedEngine.js";
import { EngineBusyError } from "../../src/errors.js";

/** Status of each engine error code, as an OpenAI-compatible server answers. */
const STATUS: Record<string, number> = {
  invalid_request: 400,
  unsupported_parameter: 400,
  context_length_exceeded: 400,
  model_not_found: 404,
  engine_busy: 429,
  request_aborted: 499,
  engine_stopped: 503,
};

export interface OpenAiServer {
  url: string;
  /** Paths of the requests it received, in order. */
  paths: string[];
  close(): Promise<void>;
}

/**
 * A minimal real OpenAI-compatible HTTP server over an embedded engine (vLLM's paths: /v1/*, /tokenize,
 * /health, and Prometheus /metrics with vllm:num_requests_running/waiting), for the remote engine's tests.
 */
export async function startOpenAiServer(engine: EmbeddedEngine): Promise<OpenAiServer> {
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    paths.push(`${request.method} ${request.url}`);
    void handle(engine, request, response).catch((error: unknown) => fail(response, error));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  engine: EmbeddedEngine,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const closed = new AbortController();
  response.on("close", () => closed.abort());
  const path = new URL(request.url ?? "/", "http://x").pathname;
  if (request.method === "GET" && path === "/health") return json(response, 200, await engine.health());
  if (request.method === "GET" && path === "/v1/models")
    return json(response, 200, { object: "list", data: await engine.models() });
  if (request.method === "GET" && path === "/metrics") {
    const lines: string[] = [];
    for (const { id } of await engine.models()) {
      const load = engine.modelLoad(id);
      lines.push(`vllm:num_requests_running{model_name="${id}"} ${load.running}`);
      lines.push(`vllm:num_requests_waiting{model_name="${id}"} ${load.waiting}`);
    }
    response
      .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
      .end(`# TYPE vllm:num_requests_running gauge\n${lines.join("\n")}\n`);
    return;
  }
  if (request.method !== "POST")
    return json(response, 404, { error: { message: "not found", type: "not_found", code: null } });
  const body = JSON.parse(await readBody(request)) as Record<string, unknown>;
  const options = { signal: closed.signal };
  switch (path) {
    case "/v1/chat/completions":
    case "/v1/completions": {
      const chat = path === "/v1/chat/completions";
      if (body.stream === true) {
        const stream = chat
          ? await engine.streamChat(body, options)
          : await engine.streamComplete(body, options);
        response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        try {
          for await (const chunk of stream) response.write(`data: ${JSON.stringify(chunk)}\n\n`);
          response.end("data: [DONE]\n\n");
        } catch (error) {
          if (!response.destroyed) response.end(`data: ${JSON.stringify(errorBody(error))}\n\n`);
        }
        return;
      }
      const result = chat ? await engine.chat(body, options) : await engine.complete(body, options);
      return json(response, 200, result.response);
    }
    case "/v1/embeddings":
      return json(response, 200, await engine.embed(body, options));
    case "/tokenize":
      return json(response, 200, await engine.tokenize(body));
    default:
      return json(response, 404, { error: { message: "not found", type: "not_found", code: null } });
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      data += chunk;
    });
    request.on("end", () => resolve(data));
    request.on("error", reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function errorBody(error: unknown) {
  const code = error instanceof AtomaError ? error.code : "INTERNAL";
  const message = error instanceof AtomaError ? error.shortMessage : "internal error";
  return { error: { message, type: code.toLowerCase(), code } };
}

function fail(response: ServerResponse, error: unknown): void {
  if (response.headersSent || response.destroyed) return;
  const status = error instanceof AtomaError ? (STATUS[error.code] ?? 500) : 500;
  if (error instanceof EngineBusyError) response.setHeader("retry-after", String(error.retryAfterSeconds));
  json(response, status, errorBody(error));
}
