import {
  type AtomaReceipt,
  assertLeafReadSigner,
  type Hash,
  InvalidInputError,
  LEAF_READ_HEADERS,
  LEAF_READ_MAX_AHEAD_SECONDS,
  type LeafReadFields,
  leafDenialToWire,
  leafReadDigest,
  NO_REQUEST_NAMED,
  SEALED_ANSWER_OBJECT,
  signLeafDenial,
} from "@atoma/core";
import type { Context } from "hono";
import type { Hex } from "viem";
import { forgetDenials } from "../accounting/deniedLeaves.js";
import { findLeafByNonce } from "../accounting/stacks.js";
import type { StoredLeaf } from "../accounting/types.js";
import { RequestInFlightError, StackNotServedError, UnknownStackError } from "../errors.js";
import type { NodeApp } from "../http/nodeEnv.js";
import type { StackApi } from "./apiContext.js";
import { MissingAuthorizationError, NoLeafAtNonceError, RequestExpiredError } from "./errors.js";
import { uintParam } from "./leafProof.js";
import { LeafReadGuard } from "./leafReadGuard.js";
import { signReceipt } from "./receipt.js";

/** The owner's signed `AtomaRequest` fields of a leaf, without its body: what the owner checks it signed. */
export interface ShownRequest {
  request_hash: Hash;
  nonce: string;
  deadline: string;
  max_units: string;
  signature: Hex;
}

/** `GET /v1/stacks/{id}/leaves/{nonce}`'s answer: the leaf's receipt, signed now, and the request it answers. */
export interface StackLeafAnswer {
  object: "stack.leaf";
  stack_id: string;
  nonce: string;
  /** The signed request the leaf answers; null when its record holds none this node can show. */
  request: ShownRequest | null;
  atoma: AtomaReceipt;
  /**
   * The answer as delivered (without its atoma object), whose response hash the receipt signs: the owner checks the
   * billed units against its usage as for any answer, so a leaf billing more than its answer used is a fraud proof
   * (`ReceiptFraud`), and units backed by a made-up answer are what Sampling Consensus recomputes. Absent for a
   * confidential (sealed) answer, a leaf whose record holds none, and a read that asks for none (`?answer=0`).
   */
  response?: unknown;
}

const MAX_UINT256 = (1n << 256n) - 1n;
const UINT64 = /^(0|[1-9]\d{0,19})$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const DECIMAL = /^(0|[1-9]\d{0,77})$/;

function header(c: Context, name: string, pattern: RegExp, what: string): string {
  const value = c.req.header(name)?.trim();
  if (value === undefined || value === "") throw new MissingAuthorizationError(`header ${name} is missing`);
  if (!pattern.test(value)) throw new MissingAuthorizationError(`header ${name} must be ${what}`);
  return value;
}

/** The request a leaf read asks about (`x-atoma-request-hash`), or `NO_REQUEST_NAMED` when it names none. */
function requestNamed(c: Context): Hash {
  const value = c.req.header(LEAF_READ_HEADERS.requestHash)?.trim();
  if (value === undefined || value === "") return NO_REQUEST_NAMED;
  if (!BYTES32.test(value))
    throw new MissingAuthorizationError(`header ${LEAF_READ_HEADERS.requestHash} must be 32 bytes of hex`);
  return value.toLowerCase() as Hash;
}

/**
 * No leaf stands at `nonce` and none is in flight there: the node's signed denial of request `reqHash` there, recorded
 * first (a commit of it there is refused from then on), then checked against a request that came in flight, or a leaf
 * committed, since: the read is then answered 409 unsigned. The record stays either way (a concurrent read may have
 * signed on it; at worst the owner's own request racing its read is refused at commit, 409 `leaf_denied`).
 */
async function deny(
  api: StackApi,
  stackId: bigint,
  nonce: bigint,
  reqHash: Hash,
): Promise<NoLeafAtNonceError | RequestInFlightError> {
  // Denied only while the stack takes requests (review leaf denials LOW-5): once settling nothing more commits, and
  // a record made then would outlive `forgetDenials` at settlement. Asked again after the record, for a move between.
  if (!(await takesRequests(api, stackId))) return new NoLeafAtNonceError(stackId, nonce);
  await api.accounting.recordDenial(stackId, nonce, reqHash);
  if (!(await takesRequests(api, stackId))) {
    await forgetDenials(api.db, stackId);
    return new NoLeafAtNonceError(stackId, nonce);
  }
  if ((await inFlightAt(api, stackId, nonce)) || (await findLeafByNonce(api.db, stackId, nonce)))
    return new RequestInFlightError(stackId);
  const fields = { stackId, nonce, reqHash };
  const signature = await signLeafDenial(api.account, api.domain, fields);
  return new NoLeafAtNonceError(stackId, nonce, leafDenialToWire({ fields, signature }));
}

/** The stack is active here (or unseen yet: its first request may still come), not settling or settled. */
async function takesRequests(api: StackApi, stackId: bigint): Promise<boolean> {
  const row = await api.db
    .selectFrom("stacks")
    .select("state")
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  return row === undefined || row.state === "active";
}

function nonceParam(value: string): bigint {
  const nonce = uintParam(value, "nonce");
  if (nonce > MAX_UINT256) throw new InvalidInputError("nonce must be below 2^256");
  return nonce;
}

/** The signed request fields of a stored leaf's transcript entry, with its hash; null when it holds none. */
function shownRequest(leaf: StoredLeaf): ShownRequest | null {
  const entry = leaf.request as Record<string, unknown> | null;
  if (typeof entry !== "object" || entry === null) return null;
  const { nonce, deadline, max_units, signature } = entry;
  if (
    typeof nonce !== "string" ||
    typeof deadline !== "string" ||
    typeof max_units !== "string" ||
    typeof signature !== "string" ||
    ![nonce, deadline, max_units].every((v) => DECIMAL.test(v)) ||
    !SIGNATURE.test(signature)
  )
    return null;
  return { request_hash: leaf.reqHash, nonce, deadline, max_units, signature: signature as Hex };
}

/** The leaf's answer as the owner may be shown it: a clear answer only (a sealed one stays with its client). */
function shownResponse(leaf: StoredLeaf): unknown {
  const response = leaf.response;
  if (typeof response !== "object" || response === null) return undefined;
  return (response as { object?: unknown }).object === SEALED_ANSWER_OBJECT ? undefined : response;
}

/** Whether a request holds units of the stack at `nonce`, its next leaf (reserved, not yet committed or released). */
async function inFlightAt(api: StackApi, stackId: bigint, nonce: bigint): Promise<boolean> {
  const row = await api.db
    .selectFrom("stacks")
    .select(["leaf_count", "units_reserved"])
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  return row !== undefined && row.leaf_count === nonce && row.units_reserved > 0n;
}

/**
 * `GET /v1/stacks/{id}/leaves/{nonce}`: the leaf this node committed at `nonce` of a stack it serves, settled or
 * not, shown to the stack's owner only: its receipt (the node's `AtomaResponse` signature, as an answer carries it)
 * and the owner's signed request fields (hashes only, never a body: a confidential one stays sealed), with the clear
 * answer it committed (`response`, so the billed units are checked against its usage; left out for `?answer=0`,
 * a read that adopts or audits the leaf and bounds its read to the receipt's size). The owner
 * signs an `AtomaLeafRead` over (stack, nonce, deadline, salt, request hash) in the `x-atoma-*` headers; each signed
 * read is answered once. A read naming the request it asks about (`x-atoma-request-hash`) that finds no leaf gets the
 * node's signed `AtomaLeafDenial` of that request at that nonce with its 404 (`denial`), and the node never commits
 * that request there afterwards (`denied_leaves`); a read naming none gets a bare 404. Errors: 400 `invalid_input`
 * (the nonce), 401 `invalid_signature` (headers missing or malformed, deadline passed or too far ahead, not the
 * owner's signature), 403 `stack_not_served`, 404 `unknown_stack` or `leaf_not_found`, 409 `request_in_flight` (a
 * request at that nonce is still being answered: it may yet commit there; never a denial then), 409
 * `leaf_read_replayed`, 429 `leaf_reads_crowded` (the stack's reads within their deadlines fill its rooms;
 * `retry-after` says when one frees).
 */
export function leafReadRoute(app: NodeApp, api: StackApi, guard = new LeafReadGuard()): void {
  app.get("/v1/stacks/:stackId/leaves/:nonce", async (c) => {
    const stackId = uintParam(c.req.param("stackId"), "stackId");
    const nonce = nonceParam(c.req.param("nonce"));
    const deadline = BigInt(header(c, LEAF_READ_HEADERS.deadline, UINT64, "decimal unix seconds"));
    const salt = header(c, LEAF_READ_HEADERS.salt, BYTES32, "32 bytes of hex") as Hash;
    const signature = header(c, LEAF_READ_HEADERS.signature, SIGNATURE, "a 65-byte hex signature") as Hex;
    const reqHash = requestNamed(c);
    const nowSeconds = BigInt(Math.floor(api.now() / 1000));
    if (deadline < nowSeconds) throw new RequestExpiredError("the signed leaf read's deadline has passed");
    if (deadline > nowSeconds + BigInt(LEAF_READ_MAX_AHEAD_SECONDS))
      throw new RequestExpiredError(
        `the signed leaf read's deadline is more than ${LEAF_READ_MAX_AHEAD_SECONDS} s ahead`,
      );
    const stack = await api.owners.get(stackId);
    if (!stack) throw new UnknownStackError(stackId);
    if (stack.servingNodeId !== api.nodeId) throw new StackNotServedError(stackId);
    const fields: LeafReadFields = { stackId, nonce, deadline, salt, reqHash };
    await assertLeafReadSigner(api.domain, fields, signature, stack.owner);
    // Claimed only once the owner's signature checks out: nobody else can spend a read or fill the stack's rooms.
    guard.claim(stackId, leafReadDigest(api.domain, fields), deadline, nowSeconds);
    // A request held at this nonce and not committed yet may still commit there: "no leaf" would free the nonce. Asked
    // before the leaf is looked up (a commit releases the hold and writes the leaf in one transaction), so a commit
    // between the two is seen by one of them (review 2 of h-gw, MEDIUM-B); asked again after, for a request held since.
    const inFlightBefore = await inFlightAt(api, stackId, nonce);
    const leaf = await findLeafByNonce(api.db, stackId, nonce);
    if (!leaf) {
      if (inFlightBefore || (await inFlightAt(api, stackId, nonce))) throw new RequestInFlightError(stackId);
      if (reqHash === NO_REQUEST_NAMED) throw new NoLeafAtNonceError(stackId, nonce);
      throw await deny(api, stackId, nonce, reqHash);
    }
    // `?answer=0`: a reader that adopts or audits the leaf uses no answer, and bounds its read to the receipt's size.
    const response = c.req.query("answer") === "0" ? undefined : shownResponse(leaf);
    const answer: StackLeafAnswer = {
      object: "stack.leaf",
      stack_id: stackId.toString(),
      nonce: nonce.toString(),
      request: shownRequest(leaf),
      atoma: await signReceipt(api, leaf),
      ...(response === undefined ? {} : { response }),
    };
    return c.json(answer, 200, { "cache-control": "no-store" });
  });
}
