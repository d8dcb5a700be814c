import { createServer, type Server, type ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { bodyOf, DROPPED_HEADERS, listenLocal } from "./relay.js";

/** A node seen through a path that delivers its streamed answers slowly. */
export interface PacedRelay {
  url: string;
  /** Milliseconds each event of a streamed answer is held before it is passed on (0: as the node sends it). */
  eventDelayMs: number;
  /** Milliseconds every answer (a model list included) is held before it is passed on (0: none): a node farther away. */
  answerDelayMs: number;
  /**
   * Milliseconds from the first chat request it sees during which every chat request is answered `unknown_stack`
   * (0: none): a node that refuses the first tries while it generates, then sends the whole answer at once.
   */
  refuseChatMs: number;
  /** Chat requests refused so far. */
  refusedChats: number;
  close: () => Promise<void>;
}

const CHAT = "/v1/chat/completions";

/** `unknown_stack` as the node words it: a stack it does not know (yet). */
function refuseUnknownStack(response: ServerResponse): void {
  response.writeHead(404, { "content-type": "application/json" });
  response.end(
    JSON.stringify({
      error: {
        message: "stack is unknown to this node",
        type: "not_found_error",
        param: null,
        code: "unknown_stack",
      },
    }),
  );
}

/**
 * A real HTTP server in front of the node at `target` that forwards every request and streams the answer back; each
 * answer is held `answerDelayMs` first (a node farther away), and each event of a server-sent stream (a token of
 * the answer) `eventDelayMs`: a node that generates slower.
 */
export async function startPacedRelay(target: string): Promise<PacedRelay> {
  const relay: PacedRelay = {
    url: "",
    eventDelayMs: 0,
    answerDelayMs: 0,
    refuseChatMs: 0,
    refusedChats: 0,
    close: async () => undefined,
  };
  let refusingSince: number | undefined;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await bodyOf(request);
      if (request.method === "POST" && request.url === CHAT && relay.refuseChatMs > 0) {
        refusingSince ??= Date.now();
        if (Date.now() - refusingSince < relay.refuseChatMs) {
          relay.refusedChats += 1;
          refuseUnknownStack(response);
          return;
        }
        relay.refuseChatMs = 0;
        refusingSince = undefined;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (typeof value === "string" && name !== "host" && name !== "content-length") headers[name] = value;
      const answer = await fetch(new URL(request.url ?? "/", target), {
        method: request.method ?? "GET",
        headers,
        ...(body.length > 0 && { body }),
      });
      if (relay.answerDelayMs > 0) await delay(relay.answerDelayMs);
      const passed: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!DROPPED_HEADERS.has(name)) passed[name] = value;
      });
      response.writeHead(answer.status, passed);
      const streamed = answer.headers.get("content-type")?.startsWith("text/event-stream") === true;
      if (!streamed || !answer.body) {
        response.end(Buffer.from(await answer.arrayBuffer()));
        return;
      }
      const decoder = new TextDecoder();
      let held = "";
      for await (const part of answer.body) {
        held += decoder.decode(part as Uint8Array, { stream: true });
        for (let end = held.indexOf("\n\n"); end !== -1; end = held.indexOf("\n\n")) {
          await delay(relay.eventDelayMs);
          response.write(held.slice(0, end + 2));
          held = held.slice(end + 2);
        }
      }
      response.end(held);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(502, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ error: { message: String(error), type: "server_error", code: "relay" } }),
      );
    });
  });
  Object.assign(relay, await listenLocal(server));
  return relay;
}

/** A `fetch` that sends what is meant for each relayed node's origin through its relay instead. */
export function fetchThrough(relays: ReadonlyMap<string, PacedRelay>): typeof fetch {
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    for (const [origin, relay] of relays)
      if (url.startsWith(origin)) return fetch(relay.url + url.slice(origin.length), init);
    return fetch(url, init);
  };
}
