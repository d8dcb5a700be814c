import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { RequestTooLargeError } from "../errors.js";

/**
 * Refuses a request body past `maxBytes` (`RequestTooLargeError`, 413). A body of declared length is judged by its
 * `content-length` (Node's parser delivers exactly that many bytes) without touching it; only a chunked body goes
 * through hono's `bodyLimit`, which counts it as it reads. (`bodyLimit` alone makes every request a WHATWG
 * `Request` with a streamed body, even a GET's, and the route then reads the body through that stream.)
 */
export function requestSizeLimit(maxBytes: number): MiddlewareHandler {
  const counted = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new RequestTooLargeError(maxBytes);
    },
  });
  return async (c, next) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) return counted(c, next);
    if (!/^\d+$/.test(length) || Number(length) > maxBytes) throw new RequestTooLargeError(maxBytes);
    return next();
  };
}
