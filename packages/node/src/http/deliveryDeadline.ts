import { ServerResponse } from "node:http";
import type { Context } from "hono";

/** The Node response under a Hono context when `@hono/node-server` serves it (none when the app runs in-process). */
function outgoingOf(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  return outgoing instanceof ServerResponse ? outgoing : undefined;
}

/**
 * Closes the response's connection unless the response has finished (every byte handed to the socket) within
 * `ms`: a client that takes the bytes of a complete answer slowly enough to dodge the idle timeout still cannot
 * hold a connection and its buffered answer for long.
 */
export function closeUnlessDeliveredWithin(c: Context, ms: number): void {
  const outgoing = outgoingOf(c);
  if (!outgoing || outgoing.writableFinished || outgoing.destroyed) return;
  const timer = setTimeout(() => outgoing.destroy(), ms);
  timer.unref();
  outgoing.once("close", () => clearTimeout(timer));
}
