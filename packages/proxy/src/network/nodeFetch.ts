import { Readable } from "node:stream";
import { type Dispatcher, request } from "undici";

/** Statuses a redirect comes with: fetch's `redirect: "error"` refuses them, and so does `nodeFetch`. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Statuses a `Response` may not have a body with. */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

/** A node answered a call with a redirect the caller refused (`redirect: "error"`, as fetch's "fetch failed"). */
export class NodeRedirectError extends TypeError {
  readonly code = "ERR_NODE_REDIRECT";
  constructor(status: number) {
    super(`fetch failed: the node answered with a redirect (${status})`);
  }
}

/** What `nodeFetch` takes of fetch's options, and the dispatcher to call through (undici's global one if none). */
export interface NodeFetchInit {
  method?: string | undefined;
  headers?: RequestInit["headers"] | undefined;
  body?: RequestInit["body"] | undefined;
  redirect?: RequestInit["redirect"] | undefined;
  signal?: AbortSignal | undefined;
  dispatcher?: Dispatcher | undefined;
}

/**
 * `fetch` for the gateway's calls to nodes, over undici's `request`: the same request and the same `Response`
 * (streamed as it comes, aborted by `signal`), without fetch's WHATWG request machinery, which costs about as
 * much again per call as the HTTP exchange itself on loopback. No redirect is followed (one is refused when
 * `redirect` is "error", as the SDK asks), and no `accept-encoding` is sent, so the body comes as the node wrote it.
 */
export async function nodeFetch(input: string | URL | Request, init: NodeFetchInit = {}): Promise<Response> {
  if (input instanceof Request) throw new TypeError("nodeFetch takes a URL");
  const headers = headerRecord(init.headers);
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== "string")
    throw new TypeError("nodeFetch sends a string body only");
  const answer = await request(input, {
    method: (init.method ?? "GET") as Dispatcher.HttpMethod,
    headers,
    body: body ?? null,
    signal: init.signal ?? undefined,
    ...(init.dispatcher ? { dispatcher: init.dispatcher } : {}),
  });
  if (REDIRECTS.has(answer.statusCode) && init.redirect !== "manual") {
    discard(answer.body);
    throw new NodeRedirectError(answer.statusCode);
  }
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) responseHeaders.append(name, one);
    else responseHeaders.append(name, value);
  }
  const empty = NO_BODY.has(answer.statusCode) || init.method === "HEAD";
  if (empty) discard(answer.body);
  return new Response(empty ? null : (receivedWhole(answer) ?? bodyStream(answer.body)), {
    status: answer.statusCode,
    headers: responseHeaders,
  });
}

/**
 * The whole body, when every byte its `content-length` declares came with the headers (a node's JSON answer, most
 * often): handed over at once instead of through a stream adapter. Undici stops reading past its buffer's high-water
 * mark, so this only ever takes a small answer; any other body (an event stream, a length not all here yet, none
 * declared) streams as it comes. The bytes are the node's own: the SDK's size caps and checks read them unchanged.
 */
function receivedWhole(answer: Dispatcher.ResponseData): Uint8Array | undefined {
  const declared = answer.headers["content-length"];
  if (typeof declared !== "string" || !/^\d+$/.test(declared)) return undefined;
  const body = answer.body;
  if (body.readableLength !== Number(declared) || body.readableFlowing === true) return undefined;
  const bytes = body.read() as Buffer | null;
  if (bytes === null) return undefined;
  // Nothing is left to read: what follows (the end of the stream) frees the connection for the next call.
  discard(body);
  return bytes;
}

const bodyStream = (body: Dispatcher.ResponseData["body"]) =>
  Readable.toWeb(body) as ReadableStream<Uint8Array>;

/**
 * Request headers as a record of lowercase names: a plain record (what the SDK passes) is copied as it is, anything
 * else goes through `Headers` (undici checks names and values as it sends them either way).
 */
export function headerRecord(init: RequestInit["headers"] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (init === undefined || init === null) return headers;
  if (init instanceof Headers || Array.isArray(init) || typeof init !== "object") {
    new Headers(init).forEach((value, name) => {
      headers[name] = value;
    });
    return headers;
  }
  for (const [name, value] of Object.entries(init)) headers[name.toLowerCase()] = String(value);
  return headers;
}

/** Reads and drops a body no one will read (a bounded amount, so the connection can be reused), never throwing. */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.dump().catch(() => undefined);
}
