import {
  AttestationMalformedError,
  confidentialContext,
  isConfidentialBody,
  openRequest,
  type ResponseSealer,
  readConfidentialEnvelope,
} from "@atoma/confidential";
import { assertJsonDepth, MAX_REQUEST_DEPTH } from "@atoma/core";
import type { Context } from "hono";
import type { StackApi } from "../api/apiContext.js";
import type { RequestEnvelope } from "../api/envelope.js";
import { InvalidJsonError } from "../errors.js";
import { checkSealedAccepted } from "./confidentialGate.js";
import {
  ConfidentialEnvelopeError,
  ConfidentialReplayedError,
  ConfidentialUndecryptableError,
  ConfidentialUnsupportedError,
} from "./errors.js";

/** A confidential request opened in memory: the OpenAI body inside, and the sealer of its answer. */
export interface OpenedConfidential {
  body: Record<string, unknown>;
  sealer: ResponseSealer;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * When the signed body is a confidential envelope (on a node with confidential compute, for a stack whose task
 * takes them, see `checkSealedAccepted`) (`{ atoma_confidential: { v, enc, ciphertext } }`): refuses an
 * encapsulated key another signed request already used (`ConfidentialReplayedError`, 409), opens the ciphertext
 * with the node's key under this request's stack, nonce, deadline and path (`ConfidentialUndecryptableError`, 400
 * when it does not open: sealed to another key, for another request, or changed), and returns the body inside.
 * Undefined for an ordinary body. The plaintext lives in memory only: nothing here logs or stores it.
 */
export async function openConfidential(
  api: StackApi,
  c: Context,
  envelope: RequestEnvelope,
  body: Record<string, unknown>,
): Promise<OpenedConfidential | undefined> {
  if (!isConfidentialBody(body)) return undefined;
  const confidential = api.confidential;
  if (!confidential) throw new ConfidentialUnsupportedError();
  await checkSealedAccepted(api, envelope.stackId);
  let sealed: ReturnType<typeof readConfidentialEnvelope>;
  try {
    sealed = readConfidentialEnvelope(body);
  } catch (error) {
    if (error instanceof AttestationMalformedError) throw new ConfidentialEnvelopeError(error.shortMessage);
    throw error;
  }
  const owner = `${envelope.stackId}/${envelope.nonce}`;
  const nowSeconds = BigInt(Math.floor(api.now() / 1000));
  const replays = api.replays ?? confidential.replays;
  if (await replays.seenByOther(sealed.enc, owner, nowSeconds)) throw new ConfidentialReplayedError();
  const context = confidentialContext({
    stackId: envelope.stackId,
    nonce: envelope.nonce,
    deadline: envelope.deadline,
    path: c.req.path,
  });
  let opened: Awaited<ReturnType<typeof openRequest>>;
  try {
    opened = await openRequest(await confidential.privateKey(), sealed, context);
  } catch (error) {
    throw new ConfidentialUndecryptableError({ cause: error });
  }
  // Only a request that opened is remembered: a copy sealed for another request cannot block the real one.
  if (!(await replays.claim(sealed.enc, owner, envelope.deadline, nowSeconds)))
    throw new ConfidentialReplayedError();
  let inner: unknown;
  try {
    inner = JSON.parse(utf8.decode(opened.plaintext));
  } catch {
    throw new InvalidJsonError("the sealed request is not a JSON text");
  }
  if (typeof inner !== "object" || inner === null || Array.isArray(inner))
    throw new InvalidJsonError("the sealed request must be a JSON object");
  assertJsonDepth(inner, MAX_REQUEST_DEPTH);
  if (isConfidentialBody(inner as Record<string, unknown>))
    throw new ConfidentialEnvelopeError("a sealed request does not nest another");
  return { body: inner as Record<string, unknown>, sealer: opened.response };
}
