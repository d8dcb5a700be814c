import type { Context } from "hono";
import type { Endpoint, StackApi } from "./apiContext.js";
import { outcomeOf } from "./outcome.js";
import { runRequestPipeline } from "./requestPipeline.js";

/** nginx's status for a request whose client closed the connection first (logged, never seen by a client). */
const CLIENT_CLOSED_REQUEST = 499;

/** The route handler of one endpoint: the request pipeline, with its failures counted. */
export function inferenceHandler(api: StackApi, endpoint: Endpoint) {
  return async (c: Context): Promise<Response> => {
    const started = performance.now();
    try {
      return await runRequestPipeline(api, endpoint, c, started);
    } catch (error) {
      // The client went away (while queued or generating): nobody reads an answer, and it is no server error.
      if (c.req.raw.signal.aborted) {
        api.metrics?.requests.inc({ endpoint, outcome: "aborted" });
        return c.body(null, CLIENT_CLOSED_REQUEST as 400);
      }
      api.metrics?.requests.inc({ endpoint, outcome: outcomeOf(error) });
      throw error;
    }
  };
}
