import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/**
 * CORS for routes any page may call with a bearer key (never a cookie): a preflight gets hono's `cors` answer; any
 * other request gets `access-control-allow-origin: *` and the exposed headers set on the answer once it is made.
 * Hono's `cors` sets them on `c.res` before the route runs, which makes hono rebuild every answer as a WHATWG
 * `Response` with a streamed body (for the gateway's JSON answers, about as costly as the route itself).
 */
export function browserAccess(exposeHeaders: readonly string[]): MiddlewareHandler {
  const expose = exposeHeaders.join(",");
  // Any header a page asks to send is allowed (OpenAI's browser client adds its own `x-stainless-*`).
  const preflight = cors({ origin: "*", exposeHeaders: [...exposeHeaders], maxAge: 600 });
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return preflight(c, next);
    await next();
    let headers = c.res.headers;
    try {
      headers.set("access-control-allow-origin", "*");
    } catch {
      // An answer with immutable headers (one fetched elsewhere): copied once, as hono would.
      c.res = new Response(c.res.body, c.res);
      headers = c.res.headers;
      headers.set("access-control-allow-origin", "*");
    }
    headers.set("access-control-expose-headers", expose);
  };
}
