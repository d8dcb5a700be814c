import { requestHash } from "@atoma/core";
import type { Context } from "hono";
import { readJsonObject } from "../http/readJson.js";
import type { Endpoint, StackApi } from "./apiContext.js";
import { authorize } from "./authorize.js";
import { type Admitted, completeInference } from "./completeInference.js";
import { checkDeadline, readEnvelope, transcriptEntry } from "./envelope.js";
import { outcomeOf } from "./outcome.js";
import { answerResend, findAnswered } from "./resend.js";
import { streamInference } from "./streamInference.js";
import { boundUnits } from "./unitBound.js";

/** nginx's status for a request whose client closed the connection first (logged, never seen by a client). */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * One owner-signed inference request: authorisation headers and deadline, the body's hash, the stack and the
 * owner's signature, the unit bound, a generation slot, the reservation (which records the nonce), then the
 * engine. A resend of a request already answered gets the stored answer.
 */
export function inferenceHandler(api: StackApi, endpoint: Endpoint) {
  return async (c: Context): Promise<Response> => {
    const started = performance.now();
    try {
      return await handle(api, endpoint, c, started);
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

async function handle(api: StackApi, endpoint: Endpoint, c: Context, started: number): Promise<Response> {
  const envelope = readEnvelope(c);
  const body = await readJsonObject(c);
  const reqHash = requestHash(body);
  await authorize(api, envelope, reqHash);
  const stream = endpoint !== "embeddings" && body.stream === true;
  try {
    checkDeadline(envelope, BigInt(Math.floor(api.now() / 1000)), api.limits.maxDeadlineAheadSeconds);
  } catch (error) {
    // A request answered before its deadline is still answered from the records after it (a slow restart).
    const answered = await findAnswered(api, envelope, reqHash);
    if (!answered) throw error;
    api.metrics?.requests.inc({ endpoint, outcome: "resent" });
    return answerResend(api, c, answered, stream);
  }
  const bound = await boundUnits(api, endpoint, body);
  const signal = c.req.raw.signal;
  const permit = await api.admission.acquire(signal);
  let handedOver = false;
  try {
    let reservation: Admitted["reservation"];
    try {
      reservation = await api.accounting.reserve({
        stackId: envelope.stackId,
        units: bound.units,
        nonce: envelope.nonce,
        deadline: envelope.deadline,
      });
    } catch (error) {
      // A resend of a request already answered: its nonce is used, and its stack may be spent or closed since.
      const answered = await findAnswered(api, envelope, reqHash);
      if (!answered) throw error;
      api.metrics?.requests.inc({ endpoint, outcome: "resent" });
      return await answerResend(api, c, answered, stream);
    }
    const admitted: Admitted = {
      endpoint,
      body,
      reqHash,
      reservation,
      request: transcriptEntry(body, envelope),
      signal,
      started,
    };
    if (!stream) return await completeInference(api, c, admitted);
    handedOver = true;
    return await streamInference(api, c, admitted, permit);
  } finally {
    if (!handedOver) permit.release();
  }
}
