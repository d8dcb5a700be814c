import { requestHash } from "@atoma/core";
import type { Context } from "hono";
import { checkPlainAccepted } from "../confidential/confidentialGate.js";
import { logUnexpected } from "../confidential/failureLog.js";
import { type OpenedConfidential, openConfidential } from "../confidential/openConfidential.js";
import { sealedErrorBody } from "../confidential/sealedError.js";
import { httpErrorOf } from "../http/errorResponse.js";
import { readJsonObject } from "../http/readJson.js";
import type { Endpoint, StackApi } from "./apiContext.js";
import { authorize } from "./authorize.js";
import { type BodyTransform, transformBody } from "./bodyTransform.js";
import { completeInference } from "./completeInference.js";
import { checkDeadlineOrResend } from "./deadline.js";
import { type RequestEnvelope, readEnvelope, transcriptEntry } from "./envelope.js";
import { prepareBody } from "./prepareBody.js";
import { reserveUnits } from "./reserve.js";
import type { Admitted, SignedRequest } from "./signedRequest.js";
import { streamInference } from "./streamInference.js";
import { boundUnits, checkSignedBound } from "./unitBound.js";

/** Applied in order to each body before it is hashed; none yet. */
const BODY_TRANSFORMS: readonly BodyTransform[] = [];

/**
 * One owner-signed inference request, step by step: the envelope (authorisation headers), the body transforms,
 * the request hash, authorisation (stack, serving node, owner's signature), the deadline, the body prepared once
 * (parsed, prompt tokenized) and its unit bound, a generation slot (admission), the reservation (which records
 * the nonce), then the engine, the response leaf and the signed receipt. A resend of a request already answered
 * gets the stored answer. A new step is one file and one line here.
 */
export async function runRequestPipeline(
  api: StackApi,
  endpoint: Endpoint,
  c: Context,
  started: number,
): Promise<Response> {
  const envelope = readEnvelope(c);
  const signedBody = await transformBody(BODY_TRANSFORMS, await readJsonObject(c), { api, envelope, c });
  const reqHash = requestHash(signedBody);
  await authorize(api, envelope, reqHash);
  // A confidential request is hashed, signed and recorded as its sealed envelope; only the engine sees inside.
  const opened = await openConfidential(api, c, envelope, signedBody);
  if (!opened) await checkPlainAccepted(api, envelope.stackId);
  if (!opened) return serveOpened(api, endpoint, c, started, envelope, signedBody, reqHash, undefined);
  try {
    return await serveOpened(api, endpoint, c, started, envelope, signedBody, reqHash, opened);
  } catch (error) {
    // After decryption every error is sealed: its text may quote the prompt (see `sealedErrorBody`).
    const mapped = httpErrorOf(error);
    if (!mapped.expected) logUnexpected(api.logger, error, true, "sealed request failed");
    return c.json(sealedErrorBody(opened.sealer, mapped), mapped.status as 500, mapped.headers);
  }
}

async function serveOpened(
  api: StackApi,
  endpoint: Endpoint,
  c: Context,
  started: number,
  envelope: RequestEnvelope,
  signedBody: Record<string, unknown>,
  reqHash: SignedRequest["reqHash"],
  opened: OpenedConfidential | undefined,
): Promise<Response> {
  const body = opened?.body ?? signedBody;
  const signal = c.req.raw.signal;
  const stream = endpoint !== "embeddings" && body.stream === true;
  const signed: SignedRequest = {
    endpoint,
    envelope,
    body,
    signedBody,
    sealer: opened?.sealer,
    reqHash,
    stream,
    signal,
    started,
  };
  const resent = await checkDeadlineOrResend(api, c, signed);
  if (resent) return resent;
  const prepared = await prepareBody(api, endpoint, body);
  const bound = boundUnits(api, prepared);
  checkSignedBound(bound, envelope.maxUnits);
  const permit = await api.admission.acquire(signal);
  let handedOver = false;
  try {
    const reservation = await reserveUnits(api, c, signed, bound.units);
    if (reservation instanceof Response) return reservation;
    const admitted: Admitted = {
      ...signed,
      prepared,
      reservation,
      request: transcriptEntry(signedBody, envelope),
    };
    if (!stream) return await completeInference(api, c, admitted);
    handedOver = true; // the stream returns the permit when generation ends
    return await streamInference(api, c, admitted, permit);
  } finally {
    if (!handedOver) permit.release();
  }
}
