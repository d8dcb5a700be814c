import {
  assertRequestSigner,
  assertResponseSigner,
  type Hash,
  LEAF_READ_HEADERS,
  LEAF_READ_MAX_AHEAD_SECONDS,
  NO_REQUEST_NAMED,
  parseReceipt,
  type SignedReceipt,
  type SignedRequestFields,
  signLeafRead,
  verifyLeafDenial,
} from "@atoma/core";
import { type Address, bytesToHex, type Hex, type LocalAccount, type TypedDataDomain } from "viem";
import {
  NodeDeniedLeafError,
  type NodeRequestError,
  ResponseVerificationError,
  UnitsOverSignedError,
} from "./errors.js";
import { nodeError } from "./nodeError.js";
import { readJsonCapped } from "./readBodyCapped.js";

export interface StackLeafRead {
  /** The serving node's base URL (without `/v1`). */
  nodeUrl: string;
  /** The stack owner's key: signs the read, and must have signed the leaf's request. */
  account: LocalAccount;
  domain: TypedDataDomain;
  stackId: bigint;
  nonce: bigint;
  /**
   * The request the owner signed at `nonce` and asks about (its `requestHash`). Named, a node that committed no leaf
   * there answers with its signed denial of that request there (`NodeDeniedLeafError`), which frees the nonce.
   */
  reqHash?: Hash | undefined;
  /** The node's signing address: the leaf's receipt must recover to it. */
  nodeSigner: Address;
  /** The node id the receipt must name, when known. */
  nodeId?: bigint | undefined;
  /**
   * Seconds the signed read stays valid, at most `LEAF_READ_MAX_AHEAD_SECONDS` by the node's clock.
   * @default LEAF_READ_SIGN_AHEAD_SECONDS
   */
  deadlineSeconds?: number | undefined;
  /** Milliseconds the read may take before it is given up (a node that stalls it holds the caller). @default 30000 */
  timeoutMs?: number | undefined;
  /** The most bytes of the leaf's answer (`response`) read, past its receipt and request. @default 64 MiB */
  maxAnswerBytes?: number | undefined;
  /**
   * Whether the leaf's answer is wanted. false asks the node to leave it out (`?answer=0`) and reads no more than the
   * receipt and request (16 KiB), whatever `maxAnswerBytes` says: a read that adopts or audits a leaf uses no answer,
   * and a node calling nonce after nonce used would otherwise have its reader buffer the whole bound each time.
   * @default true
   */
  answer?: boolean | undefined;
  fetch?: typeof fetch | undefined;
}

/** A leaf the node showed its owner: its receipt (checked) and the owner's signed request it answers (checked). */
export interface ShownLeaf {
  receipt: SignedReceipt;
  request: SignedRequestFields & { signature: Hex };
  /**
   * The answer the node committed, as it shows a clear one (`response`), with the raw atoma object: unchecked here,
   * checked against the receipt (its response hash, its usage against the billed units) as an answer is, by the
   * caller (`StackClient` does so for its own pending requests). Absent when the node shows none.
   */
  answer?: { response: Record<string, unknown>; atoma: unknown } | undefined;
}

/**
 * How far ahead a leaf read is signed (seconds): well inside the node's `LEAF_READ_MAX_AHEAD_SECONDS`, so that a
 * client clock up to three minutes ahead of the node's is not refused (review MED-4), and each read holds one of
 * the stack's read rooms on the node for less time.
 */
export const LEAF_READ_SIGN_AHEAD_SECONDS = LEAF_READ_MAX_AHEAD_SECONDS - 180;

/** The most bytes of a leaf's answer read past its response: a receipt and a request's fields. */
const MAX_LEAF_BYTES = 16 * 1024;
/** The most bytes of a leaf's response read by default, as an answer's (`DEFAULT_MAX_ANSWER_BYTES`). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DECIMAL = /^(0|[1-9]\d{0,77})$/;

function field(request: Record<string, unknown>, name: string, pattern: RegExp): string {
  const value = request[name];
  if (typeof value !== "string" || !pattern.test(value))
    throw new ResponseVerificationError(`the leaf's request.${name} is missing or malformed`);
  return value;
}

/**
 * A refusal as thrown: a `leaf_not_found` for a read that named its request, carrying the node's valid signed denial
 * of exactly that request at that nonce, as `NodeDeniedLeafError`; anything else (a bare or badly signed denial
 * included: no word of the node's) as the node sent it.
 */
async function refusalOf(refusal: NodeRequestError, read: StackLeafRead): Promise<NodeRequestError> {
  if (read.reqHash === undefined || refusal.status !== 404 || refusal.code !== "leaf_not_found")
    return refusal;
  try {
    const denial = await verifyLeafDenial(
      read.domain,
      refusal.denial,
      { stackId: read.stackId, nonce: read.nonce, reqHash: read.reqHash },
      read.nodeSigner,
    );
    return new NodeDeniedLeafError(refusal, denial);
  } catch {
    return refusal;
  }
}

/**
 * Asks the node serving a stack for the leaf it committed at `nonce` (`GET /v1/stacks/{id}/leaves/{nonce}`, signed
 * by the owner) and checks it: the receipt is the node's signature over that stack's leaf at that nonce, and the
 * request it answers was signed by this owner at that nonce, within its unit bound. Throws `NodeRequestError` for
 * the node's refusal (`leaf_not_found`: it committed nothing there; `NodeDeniedLeafError` when it signed so for the
 * request named), `ResponseVerificationError` (or
 * `UnitsOverSignedError`) for a leaf that does not check out; a fetch that fails throws as it did.
 */
export async function readStackLeaf(read: StackLeafRead): Promise<ShownLeaf> {
  const { stackId, nonce, domain } = read;
  const deadline = BigInt(
    Math.floor(Date.now() / 1000) + (read.deadlineSeconds ?? LEAF_READ_SIGN_AHEAD_SECONDS),
  );
  const salt = bytesToHex(crypto.getRandomValues(new Uint8Array(32))) as Hash;
  const reqHash = read.reqHash ?? NO_REQUEST_NAMED;
  const signature = await signLeafRead(read.account, domain, { stackId, nonce, deadline, salt, reqHash });
  const fetcher = read.fetch ?? globalThis.fetch;
  const withAnswer = read.answer !== false;
  const url = new URL(`/v1/stacks/${stackId}/leaves/${nonce}`, read.nodeUrl);
  if (!withAnswer) url.searchParams.set("answer", "0");
  const answer = await fetcher(url, {
    redirect: "error",
    signal: AbortSignal.timeout(read.timeoutMs ?? 30_000),
    headers: {
      [LEAF_READ_HEADERS.deadline]: deadline.toString(),
      [LEAF_READ_HEADERS.salt]: salt,
      [LEAF_READ_HEADERS.signature]: signature,
      ...(read.reqHash === undefined ? {} : { [LEAF_READ_HEADERS.requestHash]: read.reqHash }),
    },
  });
  if (!answer.ok) {
    const refusal = await nodeError(answer);
    // A node from before named reads checks the read as unnamed (`AtomaLeafRead`) and refuses a named one (401): asked
    // once more unnamed, it answers as it always did (its bare 404 frees no nonce), and is never set aside for it.
    if (refusal.status === 401 && read.reqHash !== undefined)
      return readStackLeaf({ ...read, reqHash: undefined });
    throw await refusalOf(refusal, read);
  }
  const body = (await readJsonCapped(
    answer,
    MAX_LEAF_BYTES + (withAnswer ? (read.maxAnswerBytes ?? MAX_RESPONSE_BYTES) : 0),
  )) as Record<string, unknown> | null;
  if (typeof body !== "object" || body === null) throw new ResponseVerificationError("the leaf is not JSON");
  let parsed: ReturnType<typeof parseReceipt>;
  try {
    parsed = parseReceipt(body.atoma);
  } catch (cause) {
    throw new ResponseVerificationError("the leaf carries no valid atoma object", { cause });
  }
  const { fields } = parsed;
  if (fields.stackId !== stackId || fields.leafIndex !== nonce || fields.nonce !== nonce)
    throw new ResponseVerificationError(`the leaf shown is not stack ${stackId}'s at nonce ${nonce}`);
  if (read.nodeId !== undefined && BigInt(parsed.node_id) !== read.nodeId)
    throw new ResponseVerificationError(`the leaf names node ${parsed.node_id}, not ${read.nodeId}`);
  try {
    await assertResponseSigner(domain, fields, parsed.signature, read.nodeSigner);
  } catch (cause) {
    throw new ResponseVerificationError("the leaf is not signed by the node", { cause });
  }
  const receipt: SignedReceipt = { fields, signature: parsed.signature };
  const shown = body.request;
  if (typeof shown !== "object" || shown === null)
    throw new ResponseVerificationError("the node shows no signed request for the leaf");
  const r = shown as Record<string, unknown>;
  const request = {
    stackId,
    reqHash: fields.reqHash,
    nonce: BigInt(field(r, "nonce", DECIMAL)),
    deadline: BigInt(field(r, "deadline", DECIMAL)),
    maxUnits: BigInt(field(r, "max_units", DECIMAL)),
    signature: field(r, "signature", /^0x[0-9a-fA-F]{130}$/) as Hex,
  };
  if (request.nonce !== nonce) throw new ResponseVerificationError("the leaf's request is for another nonce");
  try {
    await assertRequestSigner(domain, request, request.signature, read.account.address);
  } catch (cause) {
    throw new ResponseVerificationError("the leaf's request is not signed by the stack's owner", { cause });
  }
  if (fields.units > request.maxUnits) throw new UnitsOverSignedError(receipt, request.maxUnits);
  const response = body.response;
  if (!withAnswer || response === undefined || response === null) return { receipt, request };
  if (typeof response !== "object" || Array.isArray(response))
    throw new ResponseVerificationError("the leaf's response is not a JSON object");
  return { receipt, request, answer: { response: response as Record<string, unknown>, atoma: body.atoma } };
}
