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
  const headers: Record<string, string> = {};
  (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
    headers[name] = value;
  });
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
  return new Response(empty ? null : (Readable.toWeb(answer.body) as ReadableStream<Uint8Array>), {
    status: answer.statusCode,
    headers: responseHeaders,
  });
}

/** Reads and drops a body no one will read (a bounded amount, so the connection can be reused), never throwing. */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.dump().catch(() => undefined);
}
