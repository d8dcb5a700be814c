import type { Context } from "hono";
import { readJsonBody } from "./readJsonBody.js";
import { chatRequestOf } from "./responses/chatRequestOf.js";
import { outcomeOfCompletion, responseObject } from "./responses/responseObject.js";
import { responseStream } from "./responses/responseStream.js";
import { SSE_HEADERS } from "./sse.js";

/** Answers a request as the gateway's own `POST /v1/chat/completions` would (keys, limits, budget, node). */
export type ChatCall = (request: Request) => Promise<Response>;

/**
 * `POST /v1/responses`: OpenAI's Responses API over the gateway's chat completions, so a Responses request is
 * authenticated, bounded, limited, charged and served exactly as the chat request it maps to. Refusals (the
 * gateway's or the node's, a node's 400 for tools or a format it does not support included) pass through as sent;
 * answers become a `response` object, or the Responses event stream, ending with the node's `atoma` receipt.
 */
export function responsesRoute(
  chat: ChatCall,
  authenticate: (authorization: string | undefined) => Promise<unknown> = async () => undefined,
) {
  return async (c: Context): Promise<Response> => {
    await authenticate(c.req.header("authorization"));
    const body = await readJsonBody(c);
    const chatBody = chatRequestOf(body);
    const headers = new Headers({ "content-type": "application/json" });
    const authorization = c.req.header("authorization");
    if (authorization !== undefined) headers.set("authorization", authorization);
    const url = new URL("/v1/chat/completions", c.req.url);
    const answer = await chat(
      new Request(url, { method: "POST", headers, body: JSON.stringify(chatBody), signal: c.req.raw.signal }),
    );
    if (!answer.ok || answer.body === null) return answer;
    // Who served and whether a fallback fired (`x-atoma-node`, `x-atoma-fallback`, …) say the same here.
    const nodeHeader: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (name.startsWith("x-atoma-")) nodeHeader[name] = value;
    });
    if (chatBody.stream === true)
      return new Response(responseStream(body, answer.body), {
        status: 200,
        headers: { ...SSE_HEADERS, ...nodeHeader },
      });
    const completion = (await answer.json()) as Record<string, unknown>;
    return c.json(responseObject(body, outcomeOfCompletion(completion), "completed"), 200, nodeHeader);
  };
}
