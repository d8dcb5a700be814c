import { randomUUID } from "node:crypto";
import type { Context, MiddlewareHandler, Next } from "hono";
import { cors } from "hono/cors";

/**
 * Hono's `requestId` and `cors` set their headers before the handler runs, on a stand-in response it keeps aside; hono then
 * copies them into the handler's response by wrapping it in a new one, which makes `@hono/node-server` send the
 * body through a web stream instead of writing it at once. These set the same headers on the handler's own
 * response once it is there (an error's response too: hono answers errors inside the chain), so nothing is
 * wrapped.
 */

const REQUEST_ID = "X-Request-Id";
const WELL_FORMED_ID = /[^\w\-=]/;

/** `requestId({ limitLength })`: the client's id when well formed and at most `limitLength` long, else a UUID. */
export function requestIdAfter(limitLength: number): MiddlewareHandler {
  return async (c: Context, next: Next) => {
    let id = c.req.header(REQUEST_ID);
    if (!id || id.length > limitLength || WELL_FORMED_ID.test(id)) id = randomUUID();
    c.set("requestId", id);
    await next();
    c.res.headers.set(REQUEST_ID, id);
  };
}

/**
 * `cors({ origin: "*", ... })` for an origin of `*`: a preflight (`OPTIONS`) is answered by hono's `cors` itself;
 * any other request gets `Access-Control-Allow-Origin: *` and the exposed headers on its response.
 */
export function corsAnyOrigin(
  options: Omit<NonNullable<Parameters<typeof cors>[0]>, "origin" | "credentials"> = {},
): MiddlewareHandler {
  const preflight = cors({ origin: "*", ...options });
  const exposed = options.exposeHeaders?.length ? options.exposeHeaders.join(",") : undefined;
  return async (c: Context, next: Next) => {
    if (c.req.method === "OPTIONS") return preflight(c, next);
    await next();
    const headers = c.res.headers;
    headers.set("Access-Control-Allow-Origin", "*");
    if (exposed) headers.set("Access-Control-Expose-Headers", exposed);
  };
}
