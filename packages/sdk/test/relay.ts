import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** The request's headers, as the relay received them (lower-case names). */
export type RequestHeaders = Record<string, string>;

/**
 * Rewrites an answer's body text on its way back (`request`: the body the relay was sent; `status`: the server's
 * status, so that a rewrite meant for an answer leaves a refusal alone, such as a node's `unknown_stack` for a stack
 * it has not read from the chain yet); identity passes it on unchanged. May answer by itself, asynchronously: a
 * gateway of its own.
 */
export type Rewrite = (
  body: string,
  path: string,
  headers: RequestHeaders,
  request: string,
  status: number,
) => string | Promise<string>;

export interface Relay {
  url: string;
  /** Requests that reached the relay (and so the server behind it), with their headers and body text as received. */
  requests: { method: string; path: string; headers: RequestHeaders; body: string }[];
  /** How the next answers are rewritten. */
  rewrite: Rewrite;
  /** The status each answer is given (the server's by default): a node that says no without cause. */
  statusOf: (status: number, path: string, headers: RequestHeaders) => number;
  close: () => Promise<void>;
}

/** Headers that describe the body as the server sent it, not as the relay hands it on. */
export const DROPPED_HEADERS = new Set([
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

export async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/**
 * A real HTTP server in front of `target` that forwards every request and hands back the answer, rewritten as
 * `relay.rewrite` says: a gateway (or a path to a node) that counts and can lie.
 */
export async function startRelay(target: string): Promise<Relay> {
  const relay: Relay = {
    url: "",
    requests: [],
    rewrite: (body) => body,
    statusOf: (status) => status,
    close: async () => undefined,
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = request.url ?? "/";
      const body = await bodyOf(request);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (typeof value === "string" && name !== "host" && name !== "content-length") headers[name] = value;
      relay.requests.push({ method: request.method ?? "GET", path, headers, body: body.toString("utf8") });
      const answer = await fetch(new URL(path, target), {
        method: request.method ?? "GET",
        headers,
        ...(body.length > 0 && { body }),
      });
      const text = await relay.rewrite(
        await answer.text(),
        path,
        headers,
        body.toString("utf8"),
        answer.status,
      );
      // The answer's own headers pass on (a node's next nonce, a retry delay), less what the body's rewrite changes.
      const passed: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!DROPPED_HEADERS.has(name)) passed[name] = value;
      });
      response.writeHead(relay.statusOf(answer.status, path, headers), {
        ...passed,
        "content-type": answer.headers.get("content-type") ?? "application/json",
      });
      response.end(text);
    })().catch((error: unknown) => {
      response.writeHead(502, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ error: { message: String(error), type: "server_error", code: "relay" } }),
      );
    });
  });
  Object.assign(relay, await listenLocal(server));
  return relay;
}

/** Serves `server` on a free local port: its URL, and a close that ends open connections too. */
export async function listenLocal(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
