import {
  AtomaError,
  type AtomaReceipt,
  atomaDomain,
  type Hash,
  pairReceiptFraud,
  requestHash,
  resultBytes,
  SEALED_ANSWER_OBJECT,
  type SignedLeafDenial,
  type SignedReceipt,
  type SignedResponseFields,
  signedResponseBody,
  singleReceiptFraud,
  verifyLeafDenial,
} from "@atoma/core";
import { type Address, bytesToHex, type Hex, type LocalAccount, type TypedDataDomain } from "viem";
import { StreamAssembler } from "./assembleStream.js";
import { checkReceiptSequence } from "./checkReceiptSequence.js";
import {
  checkAccount,
  checkAddress,
  checkBody,
  checkChainId,
  checkHttpUrl,
  checkNodeId,
  checkPositive,
  checkPositiveInteger,
  checkStackId,
  type Endpoint,
} from "./client/clientArguments.js";
import {
  AnswerTooLargeError,
  ClientArgumentError,
  LeafEquivocationError,
  LeafUnreadableError,
  NodeDeniedLeafError,
  NodeRequestError,
  NodeUnreachableError,
  NonceGapError,
  ReceiptWithheldError,
  ResendInFlightError,
  ResponseVerificationError,
  RunningTotalError,
  SealedNonceMovedError,
  UnhashableStreamError,
  UnitsOverSignedError,
  UsageMismatchError,
} from "./errors.js";
import { type NodeErrorBody, nodeError } from "./nodeError.js";
import { expired, isInFlightRefusal, isNonceRefusal, refusedOutright, transient } from "./nodeRefusals.js";
import { nonceFiller } from "./nonceFiller.js";
import { readJsonCapped } from "./readBodyCapped.js";
import { readSse, type SseLimits } from "./readSse.js";
import { LEAF_READ_SIGN_AHEAD_SECONDS, readStackLeaf, type ShownLeaf } from "./readStackLeaf.js";
import { requestUnitBound } from "./requestUnitBound.js";
import { type SignedStackRequest, signStackRequest } from "./signStackRequest.js";
import { verifyReceipt } from "./verifyReceipt.js";

/** A node-signed receipt as the owner keeps it, with the result bytes of the answer it signed (its usage). */
export interface KeptReceipt extends SignedReceipt {
  result: Hex;
  /**
   * Signed outside an answer (a refusal's "last leaf") and kept as evidence that the node lied (`keepShown`): never a
   * leaf the client holds, so it moves neither the next nonce nor the leaf an index challenge names.
   */
  shown?: true | undefined;
  /**
   * The leaf of a request another client of the same owner signed, shown by the node's leaf read when it called the
   * nonce used (`nonce_reused`): no result bytes (`0x`), but it moves the nonce and the running total continues from it.
   */
  adopted?: true | undefined;
}

/** A request signed on the stack whose receipt is not held: resent unchanged before anything new is signed. */
export interface PendingRequest {
  /** The path it was sent to (`/v1/chat/completions`, ...). */
  path: string;
  signed: SignedStackRequest;
}

/**
 * What the client made of a receipt: accepted (it continues the running total), or refused with the check it
 * failed; a refused receipt counts as held only up to its request's signed bound (`unitsHeld`).
 */
export type ReceiptVerdict =
  | { accepted: true }
  | { accepted: false; error: ResponseVerificationError; maxUnits: bigint };

/** A request this client signed, by nonce and hash only. */
export interface SignedHash {
  nonce: bigint;
  reqHash: Hex;
}

/**
 * A leaf whose read failed (the node called its nonce used, then could not show it): how often, since when (ms since
 * the epoch). Kept by a caller across runs (`unreadLeaves`), so that the reads' failures add up over time.
 */
export interface UnreadLeaf {
  nonce: bigint;
  failures: number;
  since: number;
}

/** When failed leaf reads escalate to `LeafUnreadableError`: at least `failures` of them over at least `afterMs`. */
export interface LeafReadEscalation {
  /** @default 5 */
  failures?: number | undefined;
  /** @default 10 minutes */
  afterMs?: number | undefined;
}

/**
 * What a callback returns: a promise (a write to a lasting store) is waited for before the client relies on what
 * it wrote; anything else is ignored.
 */
type Written = unknown;

export interface StackClientOptions {
  /** The serving node's base URL (without `/v1`). */
  nodeUrl: string;
  /** The stack owner's key. */
  account: LocalAccount;
  stackId: bigint;
  chainId: number;
  /** The StackManager contract (the EIP-712 verifying contract). */
  stackManager: Address;
  /** The node's signing address: every receipt must recover to it. */
  nodeSigner: Address;
  /** The serving node's id, checked against receipts when given. */
  nodeId?: bigint | undefined;
  /** The units the stack bought: a receipt whose running total exceeds them is refused. */
  stackUnits?: bigint | undefined;
  /** Receipts kept from earlier use of the stack: the running total continues from the last not `refused`. */
  receipts?: readonly KeptReceipt[] | undefined;
  /**
   * The `receipts` an earlier client refused (`onReceipt`'s verdict), by signature, with the unit bound signed at
   * their leaf: evidence only, never the base of the running total nor proof of the units used.
   */
  refused?: readonly { signature: Hex; maxUnits: bigint }[] | undefined;
  /**
   * Called with every receipt the node signed, checked or not (the owner's evidence), once its checks ran, with
   * their verdict.
   */
  onReceipt?: ((receipt: KeptReceipt, verdict: ReceiptVerdict) => Written) | undefined;
  /**
   * Requests signed earlier on the stack whose receipts are not held (the node withheld them, or the owner died
   * first): each is resent unchanged, to obtain its receipt, before the client signs anything new.
   */
  pending?: readonly PendingRequest[] | undefined;
  /**
   * Pending requests whose leaf is read (`readStackLeaf`) before they would be resent: a resend's answer nobody reads
   * (its client stopped it, its stream was cut) would have an honest node that committed nothing generate it all
   * again. A leaf the node shows for the very request is taken as its receipt: a clear request's with the answer shown
   * with it, checked as a resend's (no clear answer shown: left to the resend); a sealed one's checked as an adopted
   * leaf is, against the running total, with no answer bytes. The node's `leaf_not_found` with its signed denial of that
   * request there (`NodeDeniedLeafError`) frees the nonce for the next request, as for a request refused outright, when
   * nothing was signed past it; the denial is handed to `onForgotten`. Any other outcome leaves the request to the resend.
   */
  readLeafFirst?: ((pending: PendingRequest) => boolean) | undefined;
  /**
   * Called (and waited for before the next send) when a pending request is dropped, never to be resent: the node
   * committed nothing there (its leaf read's signed denial, given as `denial`, a refusal outright, a sealed body past
   * its deadline) and its nonce goes to another request. Whatever was held for it is settled now: a later receipt at that nonce is
   * another request's, even when the body, and so the request hash, is the same.
   */
  onForgotten?: ((pending: PendingRequest, denial?: SignedLeafDenial) => Written) | undefined;
  /**
   * Whether the node denied request `reqHash` at `nonce` (a denial kept from an earlier run, `onForgotten`'s): that
   * body is never signed there, a filler request takes the nonce first (this run's denials are known already).
   */
  deniedAt?: ((nonce: bigint, reqHash: Hash) => boolean) | undefined;
  /**
   * Called whenever the requests pending change (one signed, before it is sent; one answered or refused outright),
   * with all of them: a caller that keeps them across runs (`pending` next time) resends the same signed body at
   * the same nonce after a crash, rather than signing another there (`nonce_reused`, `NonceGapError` for good).
   */
  onPending?: ((pending: readonly PendingRequest[]) => Written) | undefined;
  /**
   * Called with each request hash signed, before the request is sent (a promise returned is waited for): a caller
   * that keeps them (`signedEarlier` next time) never has a leaf of its own request adopted after a restart.
   */
  onSigned?: ((signed: SignedHash) => Written) | undefined;
  /** Failed leaf reads kept from earlier runs (`onUnreadLeaf`): they add up with this run's. */
  unreadLeaves?: readonly UnreadLeaf[] | undefined;
  /**
   * Called when a leaf read fails (its count so far) or a leaf once unreadable is read (`failures: 0`): keep them and
   * give them back as `unreadLeaves`.
   */
  onUnreadLeaf?: ((leaf: UnreadLeaf) => Written) | undefined;
  /** When failed leaf reads escalate to `LeafUnreadableError`. @default 5 failures over 10 minutes */
  leafReadEscalation?: LeafReadEscalation | undefined;
  /**
   * Request hashes an earlier run signed past the last leaf it held (`signedHashes` then, kept with `pending`),
   * refused or forgotten ones included: a leaf the node shows for one of them is this owner's own request, never
   * adopted as another client's (review MED-3: a node that refused a request outright and committed it anyway).
   */
  signedEarlier?: readonly SignedHash[] | undefined;
  /**
   * The nonce of the next request: the stack's next leaf index (the owner's k-th request carries nonce k).
   * @default one past the last receipt kept or request pending, else 0. A client given none of `receipts`,
   * `pending`, `firstNonce` knows nothing of the stack and follows the nonce a node names once (trusting its
   * count); any other never signs a nonce past one it holds no receipt for (`NonceGapError`).
   */
  firstNonce?: bigint | undefined;
  /** Seconds a signed request stays valid. @default 300 */
  deadlineSeconds?: number | undefined;
  /** Resends of the same signed request when the node cannot be reached. @default 3 */
  resends?: number | undefined;
  /** Milliseconds between resends (doubling). @default 200 */
  resendDelayMs?: number | undefined;
  /** The largest non-streamed answer read (bytes). @default 64 MiB */
  maxAnswerBytes?: number | undefined;
  /** Bounds on a streamed answer: one event, the whole stream. @default 1 MiB, 256 MiB */
  streamLimits?: SseLimits | undefined;
  fetch?: typeof fetch | undefined;
}

/** Per-request options. */
export interface RequestOptions {
  /**
   * The most units (prompt plus completion) the node may claim for this request, signed with it: the node caps
   * generation to it and a receipt above it is refused (`UnitsOverSignedError`).
   * @default `requestUnitBound`: the body's canonical JSON bytes, a template margin and `max_tokens` per choice
   */
  maxUnits?: bigint | undefined;
}

/** The field of a confidential request's envelope (`@atoma/confidential`'s `CONFIDENTIAL_FIELD`). */
const SEALED_BODY_FIELD = "atoma_confidential";

/** Default bound of a non-streamed answer: far above any honest one (embeddings of a large batch included). */
export const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The most leaves of other clients of the owner one request steps over (each shown by a leaf read) before it fails. */
const MAX_ADOPTED_LEAVES = 64;
/** The longest wait before a leaf read is tried again, whatever the node's `retry-after` asks. */
const MAX_LEAF_READ_RETRY_MS = 2_000;

/**
 * The only leaf-read refusal that is the node's word: its explicit 404 `leaf_not_found` (it committed nothing there
 * for another client). Any other answer (401, 403, 408, 409, 429, a 404 of a proxy or of a node without the route,
 * 5xx) says nothing of the leaf: tried again, then counted as a failed read (review LOW).
 */
const nodeSaysNoLeaf = (error: NodeRequestError) => error.status === 404 && error.code === "leaf_not_found";

const DEFAULT_ESCALATION_FAILURES = 5;
const DEFAULT_ESCALATION_MS = 10 * 60_000;

/** The wait a refusal asks for (`retry-after`), in milliseconds; 0 when it names none. */
function retryAfterMs(error: unknown): number {
  const seconds = error instanceof NodeRequestError ? error.retryAfterSeconds : undefined;
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

const pause = (ms: number) => (ms > 0 ? new Promise((done) => setTimeout(done, ms)) : Promise.resolve());

/** A response whose `atoma` receipt was verified. */
export interface Verified<T = Record<string, unknown>> {
  /**
   * The response as far as the receipt covers it: rebuilt from its hashed fields (text, tool calls, finish reason,
   * logprobs, usage) plus id, object, created, model and system_fingerprint; for streams, the chunks added up.
   * Nothing else a node sent reaches here.
   */
  response: T;
  atoma: AtomaReceipt;
  fields: SignedResponseFields;
  /** The request body exactly as signed (the receipt's request hash is its hash): what a relay shows its client. */
  request: Record<string, unknown>;
}

type Body = Record<string, unknown>;
/**
 * Reads a node's answer into the response the receipt covers and the receipt itself (`sendReading`: a sealed
 * answer's reader). Throwing an `AtomaError` ends the request; any other error is taken as a broken connection
 * and the same signed request is resent (the reader is called again).
 */
export type AnswerRead = (answer: Response) => Promise<AnswerReadOut>;

/**
 * What an `AnswerRead` found: the response the receipt covers and the receipt; `usageMismatch` when the usage it
 * charges is not the one sealed with the answer (the receipt is then refused: `UsageMismatchError`).
 */
export interface AnswerReadOut {
  response: Body;
  atoma: unknown;
  usageMismatch?: boolean | undefined;
}
type Read = AnswerRead;

/**
 * Talks to the node serving one stack, as its owner. A stack takes one request at a time, in order: the k-th
 * carries nonce k and becomes leaf k, so the client sends one request at a time. It resends the same signed
 * request when the node cannot be reached (the node answers a committed one from its records, never charging
 * twice), verifies every receipt (`ResponseVerificationError`), checks its units against the usage received
 * (`UnitsMismatchError`) and its running total against the previous receipt (`RunningTotalError`), and keeps
 * every receipt the node signed (`receipts`) as evidence.
 */
export class StackClient {
  readonly domain: TypedDataDomain;
  readonly #options: StackClientOptions;
  readonly #fetch: typeof fetch;
  readonly #kept: KeptReceipt[];
  /** The last receipt that passed every check: the running total continues from it. */
  #last: KeptReceipt | undefined;
  #nextNonce: bigint;
  /** The unit bound signed at each nonce above the last accepted receipt (a set, never a high-water mark). */
  readonly #bounds = new Map<bigint, bigint>();
  /** Requests signed with no receipt yet, by nonce: resent unchanged before anything new is signed. */
  readonly #pending = new WatchedMap<bigint, PendingRequest>();
  /** How a pending request signed here is read when resent (a sealed one: its own opener, never the signed body's). */
  readonly #resendReads = new Map<bigint, Read>();
  /** The client knows where the stack stands, so never follows a nonce the node names. */
  readonly #knowsStack: boolean;
  /** Signatures of the receipts this client refused: a resend that brings one back is refused again. */
  readonly #refused = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Request hashes this client signed (or was given pending), by nonce: a leaf shown for one is not another client's. */
  readonly #signedHere = new Map<bigint, Set<string>>();
  /** `nonce:reqHash` of requests the node signed it never commits there (its leaf denials this run). */
  readonly #denied = new Set<string>();
  /** The request `#send` sent last (signed again past adopted leaves included): what a `leaf_denied` refuses. */
  #lastSent: SignedStackRequest | undefined;
  /** When this client sent the last request the node answered (ms, wall clock): undefined before the first. */
  #lastSentAt: number | undefined;
  /** Failed leaf reads by nonce, this run's added to those given (`unreadLeaves`). */
  readonly #unread = new Map<bigint, UnreadLeaf>();
  /** The callers' writes not yet waited for: waited for before a request is sent or an answer returned. */
  #writes: Promise<void>[] = [];

  /** Checks every option first: a bad one throws `ClientArgumentError` before anything is signed or sent. */
  constructor(options: StackClientOptions) {
    checkOptions(options);
    this.#options = options;
    const fetcher = options.fetch ?? globalThis.fetch;
    // Called as a plain function: a browser's fetch called as a method of another object throws "Illegal invocation".
    this.#fetch = (input, init) => fetcher(input, init);
    this.domain = atomaDomain(options.chainId, options.stackManager);
    this.#kept = [...(options.receipts ?? [])];
    const refused = new Map((options.refused ?? []).map((r) => [r.signature, r.maxUnits]));
    for (const signature of refused.keys()) this.#refused.add(signature);
    this.#last = this.#kept.reduce<KeptReceipt | undefined>(
      (last, r) =>
        !r.shown && !refused.has(r.signature) && (!last || r.fields.leafIndex > last.fields.leafIndex)
          ? r
          : last,
      undefined,
    );
    // A refused leaf above the last accepted one holds up to the bound signed there, as in the run that refused it.
    for (const r of this.#kept)
      if (!r.shown && refused.has(r.signature) && r.fields.leafIndex > (this.#last?.fields.leafIndex ?? -1n))
        this.#bounds.set(r.fields.leafIndex, refused.get(r.signature) ?? 0n);
    const next = this.#kept.reduce(
      (n, r) => (!r.shown && r.fields.leafIndex >= n ? r.fields.leafIndex + 1n : n),
      0n,
    );
    for (const pending of options.pending ?? []) {
      this.#pending.set(pending.signed.nonce, pending);
      this.#noteSigned(pending.signed.nonce, pending.signed.reqHash);
      this.#bounds.set(pending.signed.nonce, pending.signed.maxUnits);
    }
    for (const { nonce, reqHash } of options.signedEarlier ?? [])
      if (nonce >= next) this.#noteSigned(nonce, reqHash);
    for (const leaf of options.unreadLeaves ?? []) this.#unread.set(leaf.nonce, { ...leaf });
    // Told from now on: the requests given are the caller's already.
    this.#pending.onChange = () => this.#wrote(options.onPending?.(this.pending));
    // A pending request's nonce is taken by its receipt when the resend brings it, and is free again when the node
    // refuses it outright.
    this.#nextNonce =
      options.firstNonce !== undefined && options.firstNonce > next ? options.firstNonce : next;
    this.#knowsStack =
      options.firstNonce !== undefined || this.#kept.some((r) => !r.shown) || this.#pending.size > 0;
  }

  /**
   * The units the stack's leaves may hold by what this client can show: the running total of the last accepted
   * receipt, plus the signed bound of every request after it (refused receipts, and requests with none).
   */
  get unitsHeld(): bigint {
    const after = this.#last?.fields.leafIndex ?? -1n;
    let held = this.#last?.fields.cumulativeUnits ?? 0n;
    for (const [nonce, bound] of this.#bounds) if (nonce > after) held += bound;
    return held;
  }

  /** The requests signed with no receipt yet (resent first by the next request), in nonce order. */
  get pending(): readonly PendingRequest[] {
    return [...this.#pending.values()].sort((a, b) => (a.signed.nonce < b.signed.nonce ? -1 : 1));
  }

  /**
   * The requests signed here (or given in `pending`/`signedEarlier`) at nonces past the last leaf held, refused and
   * forgotten ones too: what a caller keeps with `pending` and gives back as `signedEarlier` after a restart.
   */
  get signedHashes(): readonly SignedHash[] {
    return [...this.#signedHere].flatMap(([nonce, hashes]) =>
      [...hashes].map((reqHash) => ({ nonce, reqHash: reqHash as Hex })),
    );
  }

  /** The unit bound signed at each nonce past the last accepted receipt. */
  get signedBounds(): ReadonlyMap<bigint, bigint> {
    return this.#bounds;
  }

  /** Every receipt the node signed for this client, in the order received (including refused ones). */
  get receipts(): readonly KeptReceipt[] {
    return this.#kept;
  }

  /**
   * When this client sent the last request the node answered (milliseconds since the epoch; a refusal is not
   * counted), undefined before the first: a node may settle a stack idle past the network's bound, measured from
   * its last service, which comes later.
   */
  get lastSentAt(): number | undefined {
    return this.#lastSentAt;
  }

  /**
   * The most units the leaves after the last accepted receipt, up to and including `leafIndex`, may hold: the
   * bounds the owner signed at them; undefined when this client cannot say (it knows nothing of the stack, or the
   * leaves start below `firstNonce`).
   */
  signedUnitsThrough(leafIndex: bigint): bigint | undefined {
    return this.#gapUnits(leafIndex + 1n);
  }

  /** Whether this client (or the earlier one named in `refused`) refused `receipt`: it proves nothing the node says. */
  isRefused(receipt: SignedReceipt): boolean {
    return this.#refused.has(receipt.signature);
  }

  /** The last receipt that passed every check (the running total continues from it), if any. */
  get lastAccepted(): KeptReceipt | undefined {
    return this.#last;
  }

  /**
   * Keeps, as evidence only, a receipt the node signed outside an answer (a refusal's last leaf) that contradicts
   * this client's records: it joins `receipts` (no result bytes: `0x`, `shown`) and `onReceipt` sees it refused; it
   * moves no nonce, here or in a client built from the kept receipts.
   */
  keepShown(receipt: SignedReceipt, reason: string): void {
    if (this.#kept.some((k) => k.signature === receipt.signature)) return;
    const kept: KeptReceipt = { ...receipt, result: "0x", shown: true };
    this.#kept.push(kept);
    this.#refused.add(kept.signature);
    const maxUnits = this.#bounds.get(receipt.fields.leafIndex) ?? 0n;
    this.#wrote(
      this.#options.onReceipt?.(kept, {
        accepted: false,
        error: new RunningTotalError(reason, receipt, this.#last),
        maxUnits,
      }),
    );
  }

  /** A caller's write under way (a callback's promise): waited for (`#written`) before the client relies on it. */
  #wrote(write: Written): void {
    if (write instanceof Promise) this.#writes.push(write.then(() => undefined));
  }

  /** Waits for the callers' writes under way; one that failed fails the request (nothing is relied on unwritten). */
  async #written(): Promise<void> {
    while (this.#writes.length > 0) {
      const writes = this.#writes;
      this.#writes = [];
      await Promise.all(writes);
    }
  }

  /** The nonce the next request is signed with. */
  get nextNonce(): bigint {
    return this.#nextNonce;
  }

  /**
   * Signs `body` with the next nonce, for callers that send it themselves (or to resend it later). The nonce
   * moves on when a receipt for it arrives, so a request that was refused leaves it for the next one.
   */
  sign(
    body: Body,
    maxUnits: bigint = requestUnitBound(body),
    deadline?: bigint,
  ): Promise<SignedStackRequest> {
    return this.#signAt(this.#nextNonce, body, maxUnits, deadline);
  }

  async #signAt(nonce: bigint, body: Body, maxUnits: bigint, at?: bigint): Promise<SignedStackRequest> {
    const waiting = this.#pending.get(nonce);
    if (waiting && waiting.signed.reqHash !== requestHash(body))
      throw new ClientArgumentError(
        `nonce ${nonce} carries a request with no receipt yet: send it (again) first; a nonce is never signed for another body`,
      );
    const deadline = at ?? this.deadline();
    const signed = await signStackRequest(this.#options.account, this.domain, {
      stackId: this.#options.stackId,
      body,
      nonce,
      deadline,
      maxUnits,
    });
    this.#noteSigned(signed.nonce, signed.reqHash);
    this.#wrote(this.#options.onSigned?.({ nonce: signed.nonce, reqHash: signed.reqHash }));
    // A bound signed stays in the set even when the request is never sent: the node may hold it anyway.
    const before = this.#bounds.get(signed.nonce);
    if (before === undefined || maxUnits > before) this.#bounds.set(signed.nonce, maxUnits);
    return signed;
  }

  /** The deadline a request signed now carries (unix seconds): now plus `deadlineSeconds`. */
  deadline(): bigint {
    return BigInt(Math.floor(Date.now() / 1000) + (this.#options.deadlineSeconds ?? 300));
  }

  chat(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("chat", body, () =>
      this.#call("/v1/chat/completions", { ...body, stream: false }, options),
    );
  }

  completions(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("completions", body, () =>
      this.#call("/v1/completions", { ...body, stream: false }, options),
    );
  }

  embeddings(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("embeddings", body, () => this.#call("/v1/embeddings", body, options));
  }

  /**
   * A streamed chat: `onChunk` sees every chunk as far as the hash covers it (`StreamAssembler.add`: a chunk the
   * hash cannot stand for ends the stream with `UnhashableStreamError`); resolves once the final event's receipt
   * is verified.
   */
  chatStream(body: Body, onChunk?: (chunk: Body) => void, options?: RequestOptions): Promise<Verified> {
    return checked("chat", body, () =>
      this.#call("/v1/chat/completions", { ...body, stream: true }, options, onChunk),
    );
  }

  completionsStream(
    body: Body,
    onChunk?: (chunk: Body) => void,
    options?: RequestOptions,
  ): Promise<Verified> {
    return checked("completions", body, () =>
      this.#call("/v1/completions", { ...body, stream: true }, options, onChunk),
    );
  }

  /** Sends an already signed request (again), and verifies the answer. */
  send(path: string, signed: SignedStackRequest): Promise<Verified> {
    return this.#serial(async () => {
      await this.#settlePending(signed.nonce);
      return this.#send(path, signed, this.#readJson);
    });
  }

  /**
   * Sends a request signed outside this client at its stack (a confidential envelope, sealed to the nonce and
   * deadline it was signed with) as if this client had signed it: its bound counts as held and, when the client
   * knows its stack, it stays pending (resent unchanged first) until its receipt comes.
   */
  sendPresigned(path: string, signed: SignedStackRequest): Promise<Verified> {
    return this.#serial(async () => {
      // Another request pending at this very nonce (a sealed one past its deadline, whose nonce was given out again)
      // is resent first: committed, its receipt takes the leaf; else the node refuses it and its nonce is free.
      const other = this.#pending.get(signed.nonce);
      const older = other !== undefined && other.signed.reqHash !== signed.reqHash;
      await this.#settlePending(older ? signed.nonce + 1n : signed.nonce);
      const before = this.#bounds.get(signed.nonce);
      if (before === undefined || signed.maxUnits > before) this.#bounds.set(signed.nonce, signed.maxUnits);
      if (this.#knowsStack) this.#pending.set(signed.nonce, { path, signed });
      try {
        return await this.#send(path, signed, this.#readJson);
      } catch (error) {
        // Its nonce refused (another leaf holds it): never committed, so never left pending in place of that leaf's.
        if (
          error instanceof NonceGapError &&
          this.#pending.get(signed.nonce)?.signed.reqHash === signed.reqHash
        )
          this.#pending.delete(signed.nonce);
        throw error;
      }
    });
  }

  /**
   * Sends an already signed streaming request (again), and verifies the final receipt. When the connection
   * breaks mid-stream the same signed request is resent and `onChunk` sees the answer again from its start
   * (the node answers a committed request from its records, as one chunk).
   */
  sendStream(path: string, signed: SignedStackRequest, onChunk?: (chunk: Body) => void): Promise<Verified> {
    return this.#serial(async () => {
      await this.#settlePending(signed.nonce);
      return this.#send(path, signed, this.#readStream(onChunk));
    });
  }

  /**
   * Sends an already signed request (again) whose answer `read` reads (a confidential request's sealed answer),
   * after the `run` that signed it, in this stack's order; verifies the receipt against what `read` returns.
   * Left pending (no receipt), it is resent before the next request and read by `resend` (by default `read`): the
   * signed body of a sealed request is only its envelope, so the body cannot say how its answer is read.
   */
  sendReading(
    path: string,
    sign: () => Promise<SignedStackRequest>,
    read: AnswerRead,
    resend: AnswerRead = read,
  ): Promise<Verified> {
    return this.#serial(async () => {
      await this.#settlePending();
      const signed = await sign();
      if (this.#knowsStack) {
        this.#pending.set(signed.nonce, { path, signed });
        this.#resendReads.set(signed.nonce, resend);
      }
      return this.#send(path, signed, read);
    });
  }

  #call(
    path: string,
    body: Body,
    options: RequestOptions | undefined,
    onChunk?: (chunk: Body) => void,
  ): Promise<Verified> {
    const read = body.stream === true ? this.#readStream(onChunk) : this.#readJson;
    const maxUnits = options?.maxUnits ?? requestUnitBound(body);
    return this.#serial(async () => {
      await this.#settlePending();
      await this.#fillDeniedNonce(path, body);
      const signed = await this.sign(body, maxUnits);
      if (this.#knowsStack) this.#pending.set(signed.nonce, { path, signed });
      try {
        return await this.#send(path, signed, read);
      } catch (error) {
        const denial = await this.#leafDenialOf(error);
        if (denial === undefined) throw error;
        // The node denied this very request at this nonce before (a denial this client never held: read by another
        // gateway, or before a restart), and refused it (its nonce freed): a filler takes the nonce, then it goes once
        // more. Keyed on the nonce the request was last sent at (`#send` signs again past leaves it adopts), the one
        // the node refused and signed its denial for.
        this.#denied.add(`${denial.fields.nonce}:${denial.fields.reqHash.toLowerCase()}`);
        await this.#fillDeniedNonce(path, body);
        const again = await this.sign(body, maxUnits);
        if (this.#knowsStack) this.#pending.set(again.nonce, { path, signed: again });
        return this.#send(path, again, read);
      }
    });
  }

  /**
   * The node's signed denial a 409 `leaf_denied` refusal carries, when it is the node's (`nodeSigner`) for this stack,
   * the request last sent and the nonce it was sent at; else undefined: a bare or forged `leaf_denied` (any relay can
   * send one) is a refusal like any other, never a reason to pay for a filler.
   */
  async #leafDenialOf(
    error: unknown,
    sent: SignedStackRequest | undefined = this.#lastSent,
  ): Promise<SignedLeafDenial | undefined> {
    if (!(error instanceof NodeRequestError && error.code === "leaf_denied") || sent === undefined)
      return undefined;
    try {
      return await verifyLeafDenial(
        this.domain,
        error.denial,
        { stackId: this.#options.stackId, nonce: sent.nonce, reqHash: sent.reqHash },
        this.#options.nodeSigner,
      );
    } catch {
      return undefined;
    }
  }

  /**
   * The node signed that it never commits this body's request at the next nonce (`AtomaLeafDenial`: a Regenerate of a
   * stopped stream, the same body so the same request hash): signed there, it could only be refused. A filler takes
   * that nonce first: the smallest request of its kind (`nonceFiller`: its model, a one-character prompt, one token;
   * another request hash), its answer verified and dropped, so a Stop/Regenerate loop never pays the prompt twice.
   */
  async #fillDeniedNonce(path: string, body: Body): Promise<void> {
    const nonce = this.#nextNonce;
    const hash = requestHash(body).toLowerCase();
    if (!this.#deniedHere(nonce, hash)) return;
    let refused: unknown;
    for (;;) {
      // A filler the node denied at this nonce too (its signed word, kept by `#forget`) is never sent again there.
      const filler = nonceFiller(body, (fillerHash) => this.#deniedHere(nonce, fillerHash));
      if (filler === undefined) throw refused ?? new NonceGapError(nonce, undefined);
      const signed = await this.sign(filler, requestUnitBound(filler));
      if (this.#knowsStack) this.#pending.set(signed.nonce, { path, signed });
      try {
        await this.#send(path, signed, this.#readJson);
        return;
      } catch (error) {
        if ((await this.#leafDenialOf(error, signed)) === undefined) throw error;
        refused = error;
        this.#denied.add(`${signed.nonce}:${signed.reqHash.toLowerCase()}`);
      }
    }
  }

  /** Whether the node denied request `reqHash` at `nonce` (its signed word, held here or kept by the gateway). */
  #deniedHere(nonce: bigint, reqHash: string): boolean {
    const hash = reqHash.toLowerCase();
    return this.#denied.has(`${nonce}:${hash}`) || this.#options.deniedAt?.(nonce, hash as Hash) === true;
  }

  /**
   * Resends, unchanged, every request signed before `below` whose receipt is not held, so that no nonce is signed
   * past a leaf without a receipt. A node that refuses one (anything but a transport failure) withholds a receipt
   * for a leaf it may have committed: `ReceiptWithheldError`, and nothing new is signed.
   */
  async #settlePending(below?: bigint): Promise<void> {
    const waiting = [...this.#pending.values()]
      .filter((p) => below === undefined || p.signed.nonce < below)
      .sort((a, b) => (a.signed.nonce < b.signed.nonce ? -1 : 1));
    for (const pending of waiting) {
      if (this.#options.readLeafFirst?.(pending) && (await this.#readOwnLeaf(pending.signed))) continue;
      const body = JSON.parse(pending.signed.json) as Body;
      const read =
        this.#resendReads.get(pending.signed.nonce) ??
        (body.stream === true ? this.#readStream() : this.#readJson);
      try {
        await this.#exchangeAndVerify(pending.path, pending.signed, read, true);
      } catch (error) {
        if (transient(error)) throw error;
        if (refusedOutright(error)) {
          this.#forget(pending.signed.nonce);
          continue;
        }
        // Another client of the owner took the nonce before this request reached the node: nothing is withheld.
        if (await this.#usedByAnother(pending.signed, error)) continue;
        if (!expired(pending.signed, error))
          throw new ReceiptWithheldError(pending.signed.nonce, { cause: error }, pending);
        // A sealed body opens only under the deadline it was sealed with: signed again it could never be served.
        // Past its deadline with no leaf committed, its nonce is free (as for a request refused outright).
        if (Object.hasOwn(body, SEALED_BODY_FIELD)) {
          this.#forget(pending.signed.nonce);
          continue;
        }
        // Its deadline passed with no leaf committed (a committed one is answered whatever the deadline): the same
        // body under the same bound, with a new deadline, gives the node nothing a second signature could add.
        const renewed = await this.#signAt(pending.signed.nonce, body, pending.signed.maxUnits);
        this.#pending.set(renewed.nonce, { path: pending.path, signed: renewed });
        try {
          await this.#exchangeAndVerify(pending.path, renewed, read, true);
        } catch (again) {
          if (transient(again)) throw again;
          throw new ReceiptWithheldError(
            pending.signed.nonce,
            { cause: again },
            {
              path: pending.path,
              signed: renewed,
            },
          );
        }
      }
    }
  }

  /** One request at a time: the stack numbers its leaves in the order requests arrive. */
  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * A request the node refused outright (a 4xx about the request itself): not pending, its nonce free for the next
   * request. A node that committed it anyway holds two signatures there; the receipt of the next, at the same leaf,
   * is what a settlement of the other is challenged with.
   */
  #forget(nonce: bigint, denial?: SignedLeafDenial): void {
    if (denial) this.#denied.add(`${nonce}:${denial.fields.reqHash.toLowerCase()}`);
    const dropped = this.#pending.get(nonce);
    this.#pending.delete(nonce);
    this.#resendReads.delete(nonce);
    this.#bounds.delete(nonce);
    if (this.#nextNonce === nonce + 1n) this.#nextNonce = nonce;
    if (dropped) this.#wrote(this.#options.onForgotten?.(dropped, denial));
  }

  /**
   * Sends and verifies. When the node refuses the nonce: a client that knows nothing of the stack (no `receipts`,
   * `pending` or `firstNonce`) follows the nonce the node names, once, signing the body again with it (never back
   * over a receipt it holds); any other
   * throws `NonceGapError` (signing at the nonce named would sign past leaves it holds no receipt for, or sign a
   * nonce it signed before with another body).
   */
  async #send(path: string, first: SignedStackRequest, read: Read): Promise<Verified> {
    let signed = first;
    for (let adopted = 0; ; adopted++) {
      this.#lastSent = signed;
      try {
        return await this.#exchangeAndVerify(path, signed, read);
      } catch (error) {
        // Another client of the owner took the nonce (its leaf shown): signed again, past it.
        if (adopted >= MAX_ADOPTED_LEAVES || !(await this.#usedByAnother(signed, error)))
          return this.#sendRefused(path, signed, read, error);
      }
      // A sealed envelope opens only at the nonce and deadline it was sealed to: never signed again at another (the
      // node could hold an owner's signature on a request it cannot open), but sealed again by its sender.
      if (Object.hasOwn(JSON.parse(signed.json) as Body, SEALED_BODY_FIELD))
        throw new SealedNonceMovedError(signed.nonce);
      signed = await this.sign(JSON.parse(signed.json) as Body, signed.maxUnits);
      if (this.#knowsStack) this.#pending.set(signed.nonce, { path, signed });
    }
  }

  /** `#send`'s refusal `error` of `signed`, when no other client of the owner's leaf explains it. */
  async #sendRefused(
    path: string,
    signed: SignedStackRequest,
    read: Read,
    error: unknown,
  ): Promise<Verified> {
    // The node's signed denial of this very request at this nonce goes with the freed nonce (review of the signed leaf
    // denials, M1): should the node commit it there after all (it holds the owner's signature), the denial is the
    // fraud proof the gateway settles it with (`onForgotten`), whatever becomes of the filler sent next.
    if (refusedOutright(error)) this.#forget(signed.nonce, await this.#leafDenialOf(error, signed));
    if (!(error instanceof NodeRequestError && isNonceRefusal(error))) throw error;
    const next = error.nextNonce;
    const forward =
      next !== undefined &&
      next !== signed.nonce &&
      (this.#last === undefined || next > this.#last.fields.leafIndex);
    if (this.#knowsStack || !forward) throw new NonceGapError(signed.nonce, next);
    // A client that knows nothing of the stack (another client of the owner used it): its count is the node's, only
    // ever forward, once the node shows another request's leaf at this nonce. Else this request may be the node's
    // leaf there, and the same prompt signed again at the next nonce would be a second leaf to bill (review of
    // 9bfdbf2, MEDIUM-3); and sent back to a nonce below, a prompt it signed higher up could be billed there too.
    if (next <= signed.nonce) throw new NonceGapError(signed.nonce, next);
    const shown = await this.#readLeaf(signed.nonce);
    const theirs = shown?.receipt.fields.reqHash.toLowerCase();
    if (theirs === undefined || theirs === signed.reqHash.toLowerCase())
      throw new NonceGapError(signed.nonce, next);
    this.#bounds.delete(signed.nonce);
    this.#pending.delete(signed.nonce);
    this.#resendReads.delete(signed.nonce);
    this.#nextNonce = next;
    // A sealed envelope opens only at the nonce it was sealed to: its sender seals again for the nonce named.
    const body = JSON.parse(signed.json) as Body;
    if (Object.hasOwn(body, SEALED_BODY_FIELD)) throw new SealedNonceMovedError(signed.nonce);
    const again = await this.sign(body, signed.maxUnits);
    this.#lastSent = again;
    return this.#exchangeAndVerify(path, again, read);
  }

  #noteSigned(nonce: bigint, reqHash: string): void {
    const hashes = this.#signedHere.get(nonce) ?? new Set<string>();
    hashes.add(reqHash.toLowerCase());
    this.#signedHere.set(nonce, hashes);
  }

  /**
   * Whether the node that refused `signed` with `nonce_reused` committed that nonce for another client of the same
   * owner: its leaf read (`readStackLeaf`) shows a receipt there for a request the owner signed and this client did
   * not, continuing the running total. Then the leaf is adopted (`adopted`: the nonce moves past it) and the request
   * signed here at that nonce dropped. False when the node shows no such leaf (none, one for this client's own
   * request, or one that fails a check): its `nonce_reused` stands as before. A shown leaf that contradicts a receipt
   * held at the same leaf, or the running total, is kept as evidence (`keepShown`) and thrown
   * (`LeafEquivocationError`, `RunningTotalError`).
   */
  async #usedByAnother(signed: SignedStackRequest, error: unknown): Promise<boolean> {
    if (!(this.#knowsStack && error instanceof NodeRequestError && error.code === "nonce_reused"))
      return false;
    const leaf = await this.#readLeaf(signed.nonce);
    if (!leaf) return false;
    const { receipt } = leaf;
    // The same leaf shown again (a resend after `onReceipt` failed, say): adopted already.
    if (this.#kept.some((k) => k.adopted && k.signature === receipt.signature)) return this.#adopt(receipt);
    await this.#refuseEquivocation(receipt);
    if (this.#signedHere.get(receipt.fields.nonce)?.has(receipt.fields.reqHash.toLowerCase())) return false;
    return this.#takeShown(receipt, signed.nonce, true);
  }

  /** Throws `LeafEquivocationError` (the shown leaf kept as evidence) for a leaf other than one held at its index. */
  async #refuseEquivocation(receipt: SignedReceipt): Promise<void> {
    const f = receipt.fields;
    const held = this.#kept.find(
      (k) => k.fields.leafIndex === f.leafIndex && !sameFields(k.fields, receipt.fields),
    );
    if (!held) return;
    this.keepShown(receipt, `the node shows another leaf ${f.leafIndex} than the one it signed before`);
    await this.#written();
    throw new LeafEquivocationError(receipt, held);
  }

  /**
   * `readLeafFirst`: the leaf the node committed for pending request `signed`, read instead of resending it. True
   * when that settled it (its leaf taken as its receipt, or the node's `leaf_not_found` freed its nonce, nothing
   * signed past it); false leaves it to the resend (the read failed, the node showed another request's leaf).
   */
  async #readOwnLeaf(signed: SignedStackRequest): Promise<boolean> {
    let shown: ShownLeaf;
    try {
      shown = await this.#readOwnLeafOnceDone(signed.nonce, signed.reqHash);
    } catch (error) {
      if (error instanceof UnitsOverSignedError) {
        this.keepShown(
          error.receipt,
          `the leaf shown at nonce ${signed.nonce} is over the owner's signed bound`,
        );
        await this.#written();
        return false;
      }
      // The node still answers the request (review of h-gw, HIGH-1): it may yet commit there, so it stays pending.
      if (error instanceof ResendInFlightError) throw error;
      // The node committed nothing there: the request is dropped (never resent), its nonce the next request's.
      const signedPast =
        this.#nextNonce > signed.nonce + 1n || [...this.#bounds.keys()].some((nonce) => nonce > signed.nonce);
      // Only the node's signed denial of this very request there frees it (a bare or badly signed "no leaf" is
      // no word the owner can hold it to): kept with the freed nonce, the fraud proof should that leaf settle there.
      if (error instanceof NodeDeniedLeafError && !signedPast) {
        this.#forget(signed.nonce, error.signedDenial);
        await this.#written();
        return true;
      }
      return false;
    }
    const { receipt } = shown;
    if (receipt.fields.reqHash.toLowerCase() !== signed.reqHash.toLowerCase()) return false;
    if (this.#kept.some((k) => k.signature === receipt.signature)) return this.#adopt(receipt);
    await this.#refuseEquivocation(receipt);
    // A sealed request's answer stays with its client: its leaf is checked as an adopted one is (the running total).
    if (Object.hasOwn(JSON.parse(signed.json) as Body, SEALED_BODY_FIELD))
      return this.#takeShown(receipt, signed.nonce, false);
    // A clear request's answer shown with the leaf is checked as a resend's answer is (review 2 of h-gw, MEDIUM-D): its
    // response hash is the receipt's, its usage the units billed; a leaf that fails is refused and kept with its result
    // bytes, the fraud proof of units billed past the answer's usage. Whether it is sealed is the signed body's word,
    // never the node's (review 3 of h-gw, HIGH-1): a clear leaf shown with no clear answer is left to the resend, whose
    // answer is checked.
    const answer = shown.answer;
    if (!answer || answer.response.object === SEALED_ANSWER_OBJECT) return false;
    await this.#verify(answer.response as Body, answer.atoma, signed);
    return true;
  }

  /** What every leaf read of this client names: the stack, the node, the nonce, a signature valid briefly. */
  #leafReadOf(nonce: bigint) {
    return {
      nodeUrl: this.#options.nodeUrl,
      account: this.#options.account,
      domain: this.domain,
      stackId: this.#options.stackId,
      nonce,
      nodeSigner: this.#options.nodeSigner,
      nodeId: this.#options.nodeId,
      deadlineSeconds: Math.min(
        this.#options.deadlineSeconds ?? LEAF_READ_SIGN_AHEAD_SECONDS,
        LEAF_READ_SIGN_AHEAD_SECONDS,
      ),
    };
  }

  /**
   * The node's leaf at `nonce` of a pending request of this client's; while the node answers the read 409 (that request
   * still in flight there), read again after the resend delays, then `ResendInFlightError` (the request stays pending).
   */
  async #readOwnLeafOnceDone(nonce: bigint, reqHash: Hash): Promise<ShownLeaf> {
    let delay = this.#options.resendDelayMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      try {
        return await readStackLeaf({
          ...this.#leafReadOf(nonce),
          reqHash,
          maxAnswerBytes: this.#options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES,
          fetch: this.#fetch,
        });
      } catch (error) {
        if (!(error instanceof NodeRequestError && isInFlightRefusal(error))) throw error;
        if (attempt >= (this.#options.resends ?? 3)) throw new ResendInFlightError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  /**
   * Keeps a leaf the node showed by its leaf read (`anothers`: another client's request, else a pending one of this
   * client's) once it continues the running total (`#checkAdopted`), and moves past it.
   */
  async #takeShown(receipt: SignedReceipt, nonce: bigint, anothers: boolean): Promise<true> {
    try {
      this.#checkAdopted(receipt, nonce);
    } catch (error) {
      // The evidence it kept is written before the caller hears of it.
      await this.#written();
      throw error;
    }
    const kept: KeptReceipt = { ...receipt, result: "0x", ...(anothers ? { adopted: true as const } : {}) };
    this.#kept.push(kept);
    // Kept (the audit's evidence) before the client goes on past it. A write that fails forgets it here too, so the
    // node's next `nonce_reused` there adopts it again and writes it (review of issue 13, second, MEDIUM-B: it was
    // taken as adopted already and never written).
    try {
      this.#wrote(this.#options.onReceipt?.(kept, { accepted: true }));
      await this.#written();
    } catch (error) {
      this.#kept.splice(this.#kept.indexOf(kept), 1);
      throw error;
    }
    return this.#adopt(kept);
  }

  /**
   * The leaf the node shows at `nonce` (`readStackLeaf`); undefined when the node says, or shows, that no leaf of
   * another client's stands there: `leaf_not_found`, or a leaf that fails its checks (one over the owner's signed
   * bound is kept as evidence). A read that fails otherwise (429, 5xx, 401, no connection, too slow) is tried once
   * more, then thrown as `NodeUnreachableError`: no verdict either way, the request stays pending.
   */
  async #readLeaf(nonce: bigint): Promise<ShownLeaf | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const shown = await readStackLeaf({
          ...this.#leafReadOf(nonce),
          // Another client's leaf is adopted on its receipt alone: its answer is never read (review 3 of h-gw,
          // MEDIUM-6).
          answer: false,
          fetch: this.#fetch,
        });
        await this.#leafRead(nonce);
        return shown;
      } catch (error) {
        // Asked for no answer, a node of a release before `?answer=0` sends one anyway: a read too large to take is
        // an unreadable leaf (no verdict), never "no leaf here" (review 4 of h-gw, LOW-D).
        if (error instanceof AnswerTooLargeError) return this.#leafUnread(nonce, error);
        if (error instanceof UnitsOverSignedError) {
          this.keepShown(error.receipt, `the leaf shown at nonce ${nonce} is over the owner's signed bound`);
          await this.#leafRead(nonce);
          await this.#written();
          return undefined;
        }
        if (
          error instanceof ResponseVerificationError ||
          (error instanceof NodeRequestError && nodeSaysNoLeaf(error))
        ) {
          await this.#leafRead(nonce);
          return undefined;
        }
        if (attempt >= 1) return this.#leafUnread(nonce, error);
        await pause(Math.min(retryAfterMs(error), MAX_LEAF_READ_RETRY_MS));
      }
    }
  }

  /** A leaf at `nonce` read (or the node's word that none stands there): its failed reads are forgotten. */
  async #leafRead(nonce: bigint): Promise<void> {
    if (!this.#unread.delete(nonce)) return;
    this.#wrote(this.#options.onUnreadLeaf?.({ nonce, failures: 0, since: Date.now() }));
    await this.#written();
  }

  /**
   * A read of the leaf at `nonce` failed twice: counted (and kept by the caller). Thrown as `NodeUnreachableError`
   * (no verdict) until the reads failed `leafReadEscalation.failures` times over `afterMs`, then as
   * `LeafUnreadableError`: the node that called the nonce used still cannot show it, and the caller acts.
   */
  async #leafUnread(nonce: bigint, cause: unknown): Promise<never> {
    const now = Date.now();
    const before = this.#unread.get(nonce);
    const leaf: UnreadLeaf = { nonce, failures: (before?.failures ?? 0) + 1, since: before?.since ?? now };
    this.#unread.set(nonce, leaf);
    this.#wrote(this.#options.onUnreadLeaf?.({ ...leaf }));
    await this.#written();
    const escalation = this.#options.leafReadEscalation;
    if (
      leaf.failures >= (escalation?.failures ?? DEFAULT_ESCALATION_FAILURES) &&
      now - leaf.since >= (escalation?.afterMs ?? DEFAULT_ESCALATION_MS)
    )
      throw new LeafUnreadableError(nonce, leaf.failures, leaf.since, { cause }, this.#pending.get(nonce));
    throw new NodeUnreachableError(`the node's leaf at nonce ${nonce} could not be read`, { cause });
  }

  /** The failed leaf reads counted so far (this run's and those given), by nonce. */
  get unreadLeaves(): readonly UnreadLeaf[] {
    return [...this.#unread.values()].map((leaf) => ({ ...leaf }));
  }

  /**
   * The checks of a received receipt for a leaf adopted without its answer: the running total against the last
   * accepted receipt and the bounds signed since (`checkReceiptSequence`), and against every receipt held at the
   * leaf before it. A leaf that fails is kept as evidence (`keepShown`) and thrown.
   */
  #checkAdopted(receipt: SignedReceipt, nonce: bigint): void {
    const f = receipt.fields;
    const fail = (reason: string): never => {
      this.keepShown(receipt, reason);
      throw new RunningTotalError(reason, receipt, this.#last);
    };
    if (this.#last && f.leafIndex <= this.#last.fields.leafIndex)
      fail(
        `the leaf shown at nonce ${f.nonce} is at or below leaf ${this.#last.fields.leafIndex} already held`,
      );
    const fraud =
      singleReceiptFraud(receipt, this.#options.stackUnits) ??
      this.#kept
        .filter((k) => k.fields.leafIndex + 1n === f.leafIndex)
        .map((k) => pairReceiptFraud(k, receipt))
        .find((found) => found !== undefined);
    if (fraud) fail(`the leaf shown at nonce ${f.nonce} does not continue the running total`);
    try {
      checkReceiptSequence(receipt, this.#last, {
        nonce,
        stackUnits: this.#options.stackUnits,
        gapUnits: this.#gapUnits(f.leafIndex),
      });
    } catch (error) {
      if (!(error instanceof ResponseVerificationError)) throw error;
      fail(`the leaf shown at nonce ${f.nonce} breaks the running total: ${error.message}`);
    }
  }

  /** Moves past an adopted leaf: the request signed here at its nonce dropped, the next nonce after it. */
  #adopt(kept: SignedReceipt): true {
    const f = kept.fields;
    if (!this.#last || this.#last.fields.leafIndex < f.leafIndex) this.#last = kept as KeptReceipt;
    this.#pending.delete(f.nonce);
    this.#resendReads.delete(f.nonce);
    for (const nonce of [...this.#bounds.keys()]) if (nonce <= f.leafIndex) this.#bounds.delete(nonce);
    this.#pruneSignedHere(f.leafIndex);
    if (this.#nextNonce <= f.leafIndex) this.#nextNonce = f.leafIndex + 1n;
    return true;
  }

  /** Hashes signed at or below a held leaf: no leaf there can be adopted any more. */
  #pruneSignedHere(leafIndex: bigint): void {
    for (const nonce of [...this.#signedHere.keys()]) if (nonce <= leafIndex) this.#signedHere.delete(nonce);
  }

  /** `resend`: `signed` was sent before (pending), so a 409 in flight on its first attempt here is its own. */
  async #exchangeAndVerify(
    path: string,
    signed: SignedStackRequest,
    read: Read,
    resend = false,
  ): Promise<Verified> {
    const { response, atoma, usageMismatch } = await this.#exchange(path, signed, read, resend);
    return this.#verify(response, atoma, signed, usageMismatch === true);
  }

  async #verify(
    response: Body,
    atoma: unknown,
    signed: SignedStackRequest,
    usageMismatch = false,
  ): Promise<Verified> {
    const { receipt, fields } = await verifyReceipt(response, atoma, {
      domain: this.domain,
      nodeSigner: this.#options.nodeSigner,
      stackId: this.#options.stackId,
      reqHash: signed.reqHash,
      nodeId: this.#options.nodeId,
    });
    const kept: KeptReceipt = {
      fields,
      signature: receipt.signature,
      result: bytesToHex(resultBytes(response)),
    };
    const again = this.#kept.find((k) => k.signature === kept.signature);
    // The leaf is charged whatever its checks say: the next request takes the next nonce.
    if (fields.leafIndex === signed.nonce) {
      this.#pending.delete(signed.nonce);
      this.#resendReads.delete(signed.nonce);
      if (fields.leafIndex >= this.#nextNonce) this.#nextNonce = fields.leafIndex + 1n;
    }
    const request = JSON.parse(signed.json) as Body;
    // A resend answered from the node's records: the receipt already held and accepted.
    if (again && !this.#refused.has(kept.signature))
      return { response: signedResponseBody(response), atoma: receipt, fields, request };
    const verdict = this.#check(kept, signed, response, usageMismatch);
    if (!again) {
      this.#kept.push(kept);
      this.#wrote(this.#options.onReceipt?.(kept, verdict));
      await this.#written();
    }
    if (!verdict.accepted) {
      this.#refused.add(kept.signature);
      throw verdict.error;
    }
    this.#last = kept;
    // Bounds at or below an accepted receipt are covered by its running total.
    for (const nonce of [...this.#bounds.keys()]) if (nonce <= fields.leafIndex) this.#bounds.delete(nonce);
    this.#pruneSignedHere(fields.leafIndex);
    return { response: signedResponseBody(response), atoma: receipt, fields, request };
  }

  /**
   * The receipt's checks: the sequence (`checkReceiptSequence`, a gap since the last accepted receipt bounded by
   * the bounds signed in it), then the signed bound, whose errors prove a false receipt on-chain by themselves.
   */
  #check(
    kept: KeptReceipt,
    signed: SignedStackRequest,
    response: Body,
    usageMismatch: boolean,
  ): ReceiptVerdict {
    const f = kept.fields;
    try {
      if (usageMismatch) throw new UsageMismatchError(kept);
      if (this.#last && f.leafIndex <= this.#last.fields.leafIndex)
        throw new RunningTotalError(
          `the receipt is for leaf ${f.leafIndex}, at or below leaf ${this.#last.fields.leafIndex} already held`,
          kept,
          this.#last,
        );
      checkReceiptSequence(kept, this.#last, {
        nonce: signed.nonce,
        usage: response.usage as { prompt_tokens: number; completion_tokens?: number },
        stackUnits: this.#options.stackUnits,
        gapUnits: this.#gapUnits(f.leafIndex),
      });
      if (f.units > signed.maxUnits) throw new UnitsOverSignedError(kept, signed.maxUnits);
      return { accepted: true };
    } catch (error) {
      if (!(error instanceof ResponseVerificationError)) throw error;
      return { accepted: false, error, maxUnits: signed.maxUnits };
    }
  }

  /**
   * The most units the leaves between the last accepted receipt and `leafIndex` may hold: the bounds signed at
   * them; 0 for a leaf never signed (a client that knows its stack); undefined when unknown (a client that knows
   * nothing of the stack, or a gap below `firstNonce`).
   */
  #gapUnits(leafIndex: bigint): bigint | undefined {
    const from = this.#last ? this.#last.fields.leafIndex + 1n : 0n;
    // Leaves below `firstNonce` with no receipt here are the owner's word, not this client's to check.
    if (!this.#knowsStack || from < (this.#options.firstNonce ?? 0n)) return undefined;
    let total = 0n;
    for (const [nonce, bound] of this.#bounds) if (nonce >= from && nonce < leafIndex) total += bound;
    return total;
  }

  readonly #readJson: Read = async (answer) => {
    const body = await readJsonCapped(answer, this.#options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES);
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new ResponseVerificationError("the node's answer is not a JSON object");
    const { atoma, ...response } = body as Body;
    return { response, atoma };
  };

  #readStream(onChunk?: (chunk: Body) => void): Read {
    const limits = this.#options.streamLimits;
    return async (answer) => {
      if (!answer.body) throw new ResponseVerificationError("the node sent no stream");
      const assembler = new StreamAssembler();
      let atoma: unknown;
      for await (const event of readSse(answer.body, limits)) {
        if (typeof event !== "object" || event === null || Array.isArray(event))
          throw new UnhashableStreamError("a stream event is not a JSON object");
        const chunk = event as Body;
        if (chunk.error) throw new NodeRequestError(200, chunk.error as NodeErrorBody);
        const relayed = assembler.add(chunk);
        if (!chunk.atoma) onChunk?.(relayed);
        else if ((relayed.choices as unknown[]).length > 0)
          throw new UnhashableStreamError("the receipt event carries answer text that is never relayed");
        else atoma = chunk.atoma;
      }
      return { response: assembler.response(), atoma };
    };
  }

  /**
   * POSTs the signed request and reads the answer, resending the request unchanged while the node cannot be
   * reached or the connection breaks before the answer is read. An error the node answers is not retried.
   */
  async #exchange(
    path: string,
    signed: SignedStackRequest,
    read: Read,
    resend: boolean,
  ): Promise<AnswerReadOut> {
    // What the caller keeps of the request (its hash, its pending entry) is written before the node sees it.
    await this.#written();
    const attempts = 1 + (this.#options.resends ?? 3);
    let delay = this.#options.resendDelayMs ?? 200;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
      let answer: Response;
      const sentAt = Date.now();
      try {
        answer = await this.#fetch(new URL(path, this.#options.nodeUrl), {
          method: "POST",
          // A redirect would send the signed request where the node's registered URL does not point.
          redirect: "error",
          headers: { "content-type": "application/json", ...signed.headers },
          body: signed.json,
        });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (!answer.ok) {
        const refusal = await nodeError(answer);
        // A resend the node finds still in flight (it is finishing the first attempt): waited for and resent again;
        // still in flight after the last resend, it stays pending (`ResendInFlightError`), never dropped as refused.
        // A pending request resent by a later call is a resend from its first attempt here (review of h-gw, HIGH-2).
        if ((attempt === 0 && !resend) || !isInFlightRefusal(refusal)) throw refusal;
        lastError = new ResendInFlightError(refusal);
        continue;
      }
      this.#lastSentAt = sentAt;
      try {
        return await read(answer);
      } catch (error) {
        if (error instanceof AtomaError) throw error;
        lastError = error;
      }
    }
    if (lastError instanceof ResendInFlightError) throw lastError;
    throw new NodeUnreachableError(`${this.#options.nodeUrl} cannot be reached`, { cause: lastError });
  }
}

const sameFields = (a: SignedResponseFields, b: SignedResponseFields) =>
  a.stackId === b.stackId &&
  a.leafIndex === b.leafIndex &&
  a.nonce === b.nonce &&
  a.reqHash.toLowerCase() === b.reqHash.toLowerCase() &&
  a.respHash.toLowerCase() === b.respHash.toLowerCase() &&
  a.units === b.units &&
  a.cumulativeUnits === b.cumulativeUnits &&
  a.seed === b.seed;

/** A map that tells `onChange` after each change (set once its first contents are in). */
class WatchedMap<K, V> extends Map<K, V> {
  onChange: (() => void) | undefined;
  override set(key: K, value: V): this {
    super.set(key, value);
    this.onChange?.();
    return this;
  }
  override delete(key: K): boolean {
    const had = super.delete(key);
    if (had) this.onChange?.();
    return had;
  }
}

/** Rejects (rather than throws) a body `checkBody` refuses, before `run` signs anything. */
function checked<T>(endpoint: Endpoint, body: unknown, run: () => Promise<T>): Promise<T> {
  try {
    checkBody(endpoint, body);
  } catch (error) {
    return Promise.reject(error);
  }
  return run();
}

function checkOptions(options: StackClientOptions): void {
  if (typeof options !== "object" || options === null)
    throw new ClientArgumentError("StackClient takes an options object");
  checkHttpUrl(options.nodeUrl, "nodeUrl");
  checkAccount(options.account);
  checkStackId(options.stackId);
  checkChainId(options.chainId);
  checkAddress(options.stackManager, "stackManager");
  checkAddress(options.nodeSigner, "nodeSigner");
  checkNodeId(options.nodeId);
  if (options.stackUnits !== undefined) checkPositive(options.stackUnits, "stackUnits");
  if (options.firstNonce !== undefined && (typeof options.firstNonce !== "bigint" || options.firstNonce < 0n))
    throw new ClientArgumentError("firstNonce must be a bigint of at least 0n");
  for (const name of ["deadlineSeconds", "resendDelayMs", "maxAnswerBytes"] as const)
    if (options[name] !== undefined) checkPositiveInteger(options[name], name);
  if (options.resends !== undefined && (!Number.isSafeInteger(options.resends) || options.resends < 0))
    throw new ClientArgumentError("resends must be a whole number of at least 0");
}
