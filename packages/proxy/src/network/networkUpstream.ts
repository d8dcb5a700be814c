import { SecurityLevel } from "@atoma/chain";
import {
  InvalidInputError,
  InvalidUnicodeError,
  type Logger,
  requestHash,
  STACK_HEADERS,
  silentLogger,
} from "@atoma/core";
import {
  AnswerTooLargeError,
  type KeptReceipt,
  NodeRequestError,
  NodeUnreachableError,
  type PendingRequest,
  ResendInFlightError,
  ResponseVerificationError,
  readJsonCapped,
  StackClient,
  signStackRequest,
  type Verified,
} from "@atoma/sdk";
import type { Kysely } from "kysely";
import type { Address, Hex, LocalAccount } from "viem";
import { ConfidentialSessionFailedError } from "../confidentialErrors.js";
import type { GatewayDatabase } from "../db/schema.js";
import {
  ModelNotFoundError,
  NodeFailedError,
  NoNodeAvailableError,
  RequestExceedsStackError,
} from "../errors.js";
import type {
  AttestationAnswer,
  ConfidentialLease,
  ConfidentialUpstream,
  SealedRequest,
} from "../gateway/confidentialUpstream.js";
import type { ModelListing, Upstream, UpstreamAnswer, UpstreamRequest } from "../gateway/upstream.js";
import type { SealedCharges } from "../limits/sealedCharges.js";
import { NodeHealthBook } from "../routing/nodeHealthBook.js";
import { featuresOf, NodeRefusals, requestWeight } from "../routing/nodeRefusals.js";
import type { ProviderPreferences } from "../routing/providerPreferences.js";
import { allowedBy, rankNodes } from "../routing/rankNodes.js";
import { answerCapsFor } from "./answerCaps.js";
import { watchBodyProgress } from "./bodyProgress.js";
import { type CatalogModel, type CatalogNode, nodesOf, priceSpread } from "./catalog.js";
import { CutRequests } from "./cutRequests.js";
import { failedInStream } from "./failedInStream.js";
import { FirstDeadlines, type SignedAtNonce } from "./firstDeadlines.js";
import { FreedLeaves } from "./freedLeaves.js";
import type { NetworkCatalog } from "./networkCatalog.js";
import { NodeAddressGuard } from "./nodeAddressGuard.js";
import { NodeCutCounts } from "./nodeCutCounts.js";
import { headerRecord, nodeFetch } from "./nodeFetch.js";
import { cutRequest, overbilledCut } from "./overbilledCut.js";
import { assertWithinBound, exhaustionIsFalse, OverbilledReceiptError } from "./receiptBound.js";
import { requestDeadline } from "./requestDeadline.js";
import { collectSealedStream } from "./sealedStream.js";
import { StackLeaseLapsedError } from "./stackLeaseLapsedError.js";
import type { LeasedStack, StackPool } from "./stackPool.js";
import { StreamRelay } from "./streamRelay.js";

export interface NetworkUpstreamComponents {
  /** What the network serves (a `NetworkCatalog`). */
  catalog: Pick<NetworkCatalog, "models" | "model" | "allowsPrivateNodeUrls">;
  pool: StackPool;
  /** Sealed charges held for a leaf's receipt (review3 M-3): settled as each receipt is kept. */
  sealedCharges?: Pick<SealedCharges, "settleByReceipt" | "settleFreed"> | undefined;
  /** The gateway's wallet: it owns the stacks and signs every request. */
  account: LocalAccount;
  chainId: number;
  stackManager: Address;
  /** What the gateway measured of each node (routing reads it, failures write it). @default a new one */
  health?: NodeHealthBook | undefined;
  /**
   * Where the counts against nodes (cuts, over-billed cuts) and pending requests' first deadlines are kept, so they
   * outlive a restart and are shared by the gateways on one PostgreSQL. @default in memory, per process
   */
  strikesDb?: Kysely<GatewayDatabase> | undefined;
  /** Nonces freed on a node's word (shared with the settlement watcher's `DeniedLeafProver`). @default over `strikesDb` */
  freedLeaves?: FreedLeaves | undefined;
  /** Told of every failure of a node (metrics), with the error code. */
  onNodeError?: ((nodeId: bigint, code: string) => void) | undefined;
  logger?: Logger | undefined;
}

export interface NetworkUpstreamOptions {
  /** How long a node may take to see a stack just bought (its chain listener polls). @default 30000 */
  freshStackWaitMs?: number | undefined;
  /** Stacks tried for one request when a node refuses a stack as spent, closed or unknown. @default 3 */
  stacksPerRequest?: number | undefined;
  /**
   * The longest one request may take, stream and fallbacks to other nodes included; then it is cut and the
   * stack given back. Keep it under the spend reservations' lifetime (10 minutes). @default 300000
   */
  requestTimeoutMs?: number | undefined;
  /**
   * A node that sends no part of its answer (an event, a JSON byte: headers and comments do not count) for this
   * long is given up on for the next; mid-answer, one that sends nothing more for this long is cut. @default 60000
   */
  firstByteTimeoutMs?: number | undefined;
  /** How long a node that refused (429, 5xx), timed out or could not be reached is put aside. @default 30000 */
  cooldownMs?: number | undefined;
  /** Nodes tried for one request before the last failure is the answer. @default 3 */
  nodesPerRequest?: number | undefined;
  /**
   * Signed requests in a row a node leaves with no receipt and no refusal (it failed, timed out or dropped the
   * connection after the request reached it) before it leaves rotation: each may be a leaf it committed and bills
   * up to its bound. @default 3
   */
  unansweredLimit?: number | undefined;
  /**
   * Cuts a node may make (text sent, then the connection broken while it still has the request in flight) within
   * `cutWindowMs` before it is put aside for the cooldown, counted as a `repeated_cuts` error; twice as many, when they
   * are a fifth or more of its requests there, and it leaves rotation. Cuts of streams open together within `cutBurstMs`
   * (one broken link) are one. Counted in `strikesDb` when given (`StrikeCounter`). @default 3
   */
  cutLimit?: number | undefined;
  /**
   * Leaves of cut or stopped streams billing far more than their streams carried (`overbilledCut`) a node may commit
   * within `cutWindowMs` before it is put aside, counted as an `overbilled_cuts` error; twice as many, when they are a
   * fifth or more of its requests there, and it leaves rotation. Counted as `cutLimit`. @default 2
   */
  overbilledCutLimit?: number | undefined;
  /** The window `cutLimit` and `overbilledCutLimit` count over. @default 600000 */
  cutWindowMs?: number | undefined;
  /** How close after a counted cut a cut of a stream open before it is the same one (`NodeCuts`). @default 2000 */
  cutBurstMs?: number | undefined;
  /** How far ahead (seconds) the deadline each request is signed with lies (`StackClient`). @default 300 */
  deadlineSeconds?: number | undefined;
  /**
   * How long past a pending request's signed deadline (the first it carried at the node's first 409 for it, kept in
   * `strikesDb` when given: `FirstDeadlines`; a deadline renewed after the node's 401 `request_expired` moves nothing) a node may still answer 409
   * `request_in_flight` for it; after that its stack is retired (its held charge settled with the stack's
   * settlement), and the node struck (`in_flight_past_deadline`).
   * @default 60000
   */
  inFlightGraceMs?: number | undefined;
  /**
   * Refusals in a row of requests another node then served (the client's input was fine) before the node is put
   * aside for the cooldown. @default 3
   */
  refusalLimit?: number | undefined;
  /**
   * The most times one client request's body is sent to nodes, every node tried and every resend after a broken
   * connection counted (a request of another's pending on the stack, resent first, is not): one small request cannot
   * make the gateway send its body upstream nodes × resends times over (amplification). @default 4
   */
  sendsPerRequest?: number | undefined;
  /**
   * Stacks bought for one key's requests in a minute (requests with no key are not counted): stacks with less room
   * than a request's bound do not count against the pool's size, so a key whose requests are bounded near a whole
   * stack would otherwise have one bought (a transaction, a whole stack's escrow) for each request. Past it the
   * key's requests take stacks already held, or wait and get `no_node_available`. @default 8
   */
  stackPurchasesPerKey?: number | undefined;
  /** Resends of the same signed request when a node's connection breaks (the SDK's). @default 2 */
  resends?: number | undefined;
  /** Milliseconds before the first resend (doubling). @default 100 */
  resendDelayMs?: number | undefined;
}

/** The window `stackPurchasesPerKey` counts purchases in. */
const PURCHASE_WINDOW_MS = 60_000;
/** Keys remembered in `#purchases` before those with no purchase in the window are dropped. */
const MAX_PURCHASING_KEYS = 10_000;

/** The most of a node's attestation answer read (a TDX quote with its collateral is well under it). */
const MAX_EVIDENCE_BYTES = 1024 * 1024;

/** The node's refusals of a stack itself (not of the request): another stack may serve it. */
const STACK_REFUSED = new Set([
  "stack_exhausted",
  "stack_closed",
  "stack_expired",
  "stack_not_served",
  "unknown_stack",
]);

/** Refusals the chain can confirm or contradict (status, expiry, serving node) before the stack is retired. */
const CHAIN_CHECKED_REFUSALS = new Set([
  "stack_closed",
  "stack_expired",
  "stack_not_served",
  "unknown_stack",
]);

class StackRefused extends Error {
  constructor(readonly refusal: NodeRequestError) {
    super(refusal.message);
  }
}

/** The node failed before anything was streamed, in a way another node may not: try the next one. */
class NodeDown extends Error {
  constructor(
    readonly nodeId: bigint,
    /** What the client is told when no other node serves. */
    readonly failure: unknown,
  ) {
    super("node down");
  }
}

/** The node refused the request itself (a 4xx other than 429) before anything was streamed: another node may serve it. */
class NodeRefused extends Error {
  constructor(
    readonly nodeId: bigint,
    readonly refusal: NodeRequestError,
  ) {
    super("node refused the request");
  }
}

/** What one client request has sent upstream so far, and the most it may (`sendsPerRequest`). */
interface RequestWork {
  sends: number;
  readonly limit: number;
  /** Further nodes the request may still go to, a send kept for each. */
  spare: number;
}

/** The node sent nothing within the first-byte timeout. */
class FirstByteTimeout extends Error {
  constructor() {
    super("the node sent nothing before the first-byte timeout");
  }
}

/**
 * Sends each request to a node serving its model on one of the gateway's stacks (`StackPool`), signed by the
 * gateway's wallet with the SDK's `StackClient`, which verifies the receipt (node signature, request and
 * response hashes, units against usage, the running total). Every receipt the node signs is kept.
 */
export class NetworkUpstream implements Upstream, ConfidentialUpstream {
  readonly #c: NetworkUpstreamComponents;
  readonly #logger: Logger;
  readonly #freshWaitMs: number;
  readonly #stacksPerRequest: number;
  readonly #timeoutMs: number;
  readonly #o: NetworkUpstreamOptions;
  readonly #addressGuard: NodeAddressGuard;
  /** Signed requests in a row each node left with no receipt (`unansweredLimit`). */
  readonly #unanswered = new Map<bigint, number>();
  /** Streams each node cut (`cutLimit`), and cut streams' leaves it billed far above them (`overbilledCutLimit`). */
  readonly #cutCounts: NodeCutCounts;
  readonly health: NodeHealthBook;
  /** Nodes' refusals of requests another node served (HIGH-1 of the issue 12 review). */
  readonly #refusals = new NodeRefusals();
  /**
   * Leaves given up on the node's word and their requests' hashes (`FreedLeaves`). A receipt answering a request
   * signed afresh there is never one shown after: the same body signed again (a retry, a regenerate) has the same hash.
   */
  readonly #freedLeaves: FreedLeaves;
  /**
   * This gateway's requests left with no receipt after their client stopped them or their stream was cut
   * (`CutRequests`): the stack's next request reads the leaf before any resend (`readLeafFirst`), and the receipt that
   * lands there settles the charge held for it.
   */
  readonly #cutRequests: CutRequests;
  /** The deadline each pending request carried at the node's first 409 for it (`inFlightGraceMs`). */
  readonly #firstDeadlines: FirstDeadlines;
  /** When stacks were bought for each key's requests in the last minute (`stackPurchasesPerKey`). */
  readonly #purchases = new Map<string, number[]>();
  /** Stacks held for confidential sessions, by their lease. */
  readonly #sessionStacks = new Map<ConfidentialLease, LeasedStack>();

  constructor(components: NetworkUpstreamComponents, options: NetworkUpstreamOptions = {}) {
    this.#c = components;
    this.#o = options;
    this.#addressGuard = new NodeAddressGuard(components.catalog.allowsPrivateNodeUrls);
    this.health = components.health ?? new NodeHealthBook();
    this.#firstDeadlines = new FirstDeadlines(components.strikesDb, (error) =>
      this.#logger.error({ err: error }, "a first deadline's row failed"),
    );
    this.#freedLeaves = components.freedLeaves ?? new FreedLeaves(components.strikesDb);
    this.#cutRequests = new CutRequests(components.strikesDb);
    this.#logger = (components.logger ?? silentLogger).child({ module: "upstream" });
    this.#cutCounts = new NodeCutCounts(
      {
        health: this.health,
        db: components.strikesDb,
        onNodeError: components.onNodeError,
        logger: this.#logger,
      },
      options,
    );
    this.#freshWaitMs = options.freshStackWaitMs ?? 30_000;
    this.#stacksPerRequest = options.stacksPerRequest ?? 3;
    this.#timeoutMs = options.requestTimeoutMs ?? 300_000;
  }

  models(): ModelListing[] {
    return this.#c.catalog.models().map(listing);
  }

  model(name: string): ModelListing | undefined {
    const model = this.#c.catalog.model(name);
    return model && listing(model);
  }

  maxPricePerMillion(): bigint {
    return this.#c.pool.maxPricePerMillion;
  }

  /**
   * Routes the request (`rankNodes`: the request's `provider` preferences over the balanced score) and sends it
   * on a stack at the best node that has one. A node that refuses (429, 5xx), sends nothing before the first-byte
   * timeout or cannot be reached, before anything was streamed, is put aside for the cooldown and the next node
   * is tried, unseen by the client (`fallback` says it happened).
   */
  async send(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const model = this.#c.catalog.model(request.model);
    if (!model) throw new ModelNotFoundError();
    // One deadline for the whole request, whichever nodes it goes to: a reservation outlives it.
    const deadline = requestDeadline(request.signal, this.#timeoutMs);
    try {
      return await this.#sendWithin(model, request, deadline.signal);
    } finally {
      deadline.end();
    }
  }

  async #sendWithin(
    model: CatalogModel,
    request: UpstreamRequest,
    deadline: AbortSignal,
  ): Promise<UpstreamAnswer> {
    const preferences = request.provider ?? { allowFallbacks: true };
    const nodesPerRequest = this.#o.nodesPerRequest ?? 3;
    const tried = new Set<bigint>();
    let lastFailure: unknown;
    let refused: NodeRequestError | undefined;
    let stackRefusals = 0;
    // Nodes that refused this request itself: counted against them if another node serves it.
    const requestRefusals: NodeRefused[] = [];
    const features = featuresOf(request.body);
    const weight = requestWeight(request.body, request.maxUnits);
    const work: RequestWork = { sends: 0, limit: this.#o.sendsPerRequest ?? 4, spare: 0 };
    for (;;) {
      // The request's deadline ended at a node that stalled: no other node is tried on the aborted signal.
      if (deadline.aborted && lastFailure !== undefined) throw lastFailure;
      const untried = rankNodes(nodesOf(model), preferences, this.health)
        .map((node) => node.nodeId)
        .filter((id) => !tried.has(id));
      // Nodes that refused the features this request asks for, or a request this heavy, go last (first when no other is left).
      const ranked = [
        ...untried.filter((id) => !this.#refusals.refuses(id, features, weight)),
        ...untried.filter((id) => this.#refusals.refuses(id, features, weight)),
      ];
      const first = ranked[0];
      const stop =
        tried.size >= nodesPerRequest ||
        work.sends >= work.limit ||
        (tried.size > 0 && !preferences.allowFallbacks && !preferences.order);
      if (first === undefined || stop) {
        if (lastFailure !== undefined) throw lastFailure;
        throw new NoNodeAvailableError("no node this request allows serves the model now");
      }
      const claim = this.health.claim(first);
      try {
        const stack = await this.#c.pool.lease(
          model,
          request.maxUnits,
          ranked.map((id) => [id]),
          false,
          this.#mayBuyFor(request.keyId),
        );
        if (stack.fresh) this.#bought(request.keyId);
        claim.moveTo(stack.nodeId);
        const node = nodesOf(model).find((n) => n.nodeId === stack.nodeId);
        if (
          !ranked.includes(stack.nodeId) &&
          !(node && usableFallback(node, preferences, this.health, tried))
        ) {
          // A stack just bought where the chain drew (no ranked node took it): a node this request does not allow.
          await this.#c.pool.release(stack, undefined);
          throw new NoNodeAvailableError("no stack at a node this request allows is free: retry shortly", 1);
        }
        // One send kept for each further node the request may go to: resends here do not starve the failover.
        work.spare = Math.max(0, Math.min(nodesPerRequest - tried.size - 1, ranked.length - 1));
        const answer = await this.#sendOn(stack, request, tried.size > 0, deadline, work);
        this.#refusals.served(answer.nodeId, weight);
        for (const refusal of requestRefusals)
          this.#refusedServable(refusal, features, request.keyId, weight);
        return answer;
      } catch (error) {
        if (error instanceof StackRefused) {
          refused = error.refusal;
          if (++stackRefusals < this.#stacksPerRequest && work.sends < work.limit) continue;
          throw new NodeFailedError("the nodes refused every stack tried for this request", {
            cause: refused,
          });
        }
        if (error instanceof NodeRefused) {
          // A refusal another node may not share (a node that refuses everything would otherwise rank best for
          // good): one more node is asked, and a second refusal is the client's input at fault, passed as it is. A
          // request asking for features some nodes do not serve (tools, response_format, logprobs: a node on a remote
          // engine refuses them, as a 400 like any bad input) is asked of every node it allows.
          requestRefusals.push(error);
          if (requestRefusals.length > 1 && features.length === 0) throw error.refusal;
          tried.add(error.nodeId);
          lastFailure = requestRefusals[0]?.refusal;
          continue;
        }
        if (!(error instanceof NodeDown)) throw error;
        tried.add(error.nodeId);
        lastFailure = requestRefusals[0]?.refusal ?? error.failure;
        this.#logger.info(
          { nodeId: String(error.nodeId) },
          "a node failed before answering: trying the next",
        );
      } finally {
        claim.end();
      }
    }
  }

  /**
   * A stack on one of the model's confidential (level-3) tasks, at the best-ranked node not in `ignore`, held for a
   * session: no other request takes it (nor its nonce) until the session's request was sent or the session expired.
   * The nonce reserved is the stack's next, past any request signed on it with no receipt (resent first).
   */
  async leaseConfidential(
    name: string,
    maxUnits: bigint,
    ignore: readonly bigint[],
  ): Promise<ConfidentialLease> {
    const model = this.#c.catalog.model(name);
    if (!model) throw new ModelNotFoundError();
    const confidential = {
      ...model,
      tasks: model.tasks.filter((task) => task.securityLevel === SecurityLevel.Confidential),
    };
    const ranked = rankNodes(
      nodesOf(confidential),
      { allowFallbacks: true, ignore: [...ignore] },
      this.health,
    )
      .map((node) => node.nodeId)
      .filter((id) => !ignore.includes(id));
    if (ranked.length === 0)
      throw new NoNodeAvailableError("no confidential node this session allows serves the model now");
    const stack = await this.#c.pool.lease(
      model,
      maxUnits,
      ranked.map((id) => [id]),
      true,
    );
    if (!ranked.includes(stack.nodeId) || (await this.#addressGuard.refusal(stack.nodeUrl)) !== undefined) {
      await this.#c.pool.release(stack, undefined);
      throw new NoNodeAvailableError("no confidential stack at a node this session allows is free: retry", 1);
    }
    const last = await this.#c.pool.lastReceipt(stack.stackId);
    const pending = await this.#c.pool.pendingRequests(stack.stackId, last?.fields.leafIndex);
    // Past them all, except a sealed one past its deadline: it can never be served, so the resend gives its nonce up.
    const now = BigInt(Math.floor(Date.now() / 1000));
    let nonce = stack.nextNonce;
    for (const p of pending)
      if (p.signed.nonce >= nonce && !(sealedBody(p.signed.json) && deadlineOf(p.signed) < now))
        nonce = p.signed.nonce + 1n;
    const lease: ConfidentialLease = {
      nodeId: stack.nodeId,
      nodeSigner: stack.nodeSigner,
      taskId: stack.taskId,
      stackId: stack.stackId,
      nonce,
      pricePerMillion: stack.pricePerMillion,
    };
    this.#sessionStacks.set(lease, stack);
    return lease;
  }

  /** Settles a sealed charge held for the receipt's leaf (never fails the request: logged). */
  async #settleHeld(
    fields: { stackId: bigint; leafIndex: bigint; units: bigint; reqHash: string },
    accepted: boolean,
  ): Promise<void> {
    try {
      await this.#c.sealedCharges?.settleByReceipt(
        fields.stackId,
        fields.leafIndex,
        fields.units,
        accepted,
        fields.reqHash,
      );
    } catch (error) {
      this.#logger.error({ err: error }, "settling a held sealed charge by its receipt failed");
    }
  }

  /** Settles at its floor a held charge whose nonce was freed (never fails the request: logged). */
  async #settleFreed(stackId: bigint, nonce: bigint, reqHash: string): Promise<void> {
    try {
      await this.#c.sealedCharges?.settleFreed(stackId, nonce, reqHash);
    } catch (error) {
      this.#logger.error({ err: error }, "settling a freed nonce's held charge failed");
    }
  }

  async releaseConfidential(lease: ConfidentialLease): Promise<void> {
    const stack = this.#sessionStacks.get(lease);
    if (!stack) return;
    this.#sessionStacks.delete(lease);
    await this.#c.pool.release(stack, undefined);
  }

  /** The node's evidence for the client's nonce (its epoch evidence without one), through the address guard, bounded. */
  async attestationOf(lease: ConfidentialLease, nonce: string | undefined): Promise<AttestationAnswer> {
    const stack = this.#sessionStacks.get(lease);
    if (!stack) throw new NodeFailedError("the session's stack is no longer held");
    const url = new URL("/v1/attestation", stack.nodeUrl);
    if (nonce !== undefined) url.searchParams.set("nonce", nonce);
    const dispatcher = this.#addressGuard.dispatcher;
    try {
      const answer = await fetch(url, {
        redirect: "error",
        signal: AbortSignal.timeout(this.#o.firstByteTimeoutMs ?? 60_000),
        ...(dispatcher ? { dispatcher } : {}),
      } as unknown as RequestInit);
      const retryAfter = answer.headers.get("retry-after") ?? undefined;
      const body = await readJsonCapped(answer, MAX_EVIDENCE_BYTES, "evidence");
      return { status: answer.status, body, retryAfter };
    } catch (error) {
      this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
      throw new ConfidentialSessionFailedError(stack.nodeId, { cause: error });
    }
  }

  async sendSealed(lease: ConfidentialLease, sealed: SealedRequest): Promise<UpstreamAnswer> {
    const stack = this.#sessionStacks.get(lease);
    if (!stack) throw new NodeFailedError("the session's stack is no longer held");
    this.#sessionStacks.delete(lease);
    const request: UpstreamRequest = {
      endpoint: sealed.endpoint,
      model: stack.modelId,
      body: sealed.envelope,
      stream: false,
      maxUnits: sealed.maxUnits,
      signal: sealed.signal,
      sealed: { nonce: lease.nonce, deadline: sealed.deadline, onSealed: sealed.onSealed },
    };
    const deadline = requestDeadline(sealed.signal, this.#timeoutMs);
    const claim = this.health.claim(stack.nodeId);
    try {
      return await this.#sendOn(stack, request, false, deadline.signal);
    } catch (error) {
      // The gateway's own hold lapsed before the signature (review refunds2 L3): nothing reached the node, which is
      // not blamed; the client retries (503, no_node_available).
      if (error instanceof StackLeaseLapsedError) throw error;
      // The node's refusal of the request itself (it cannot open it, a replay, a prompt too long): as it sent it.
      if (error instanceof NodeRequestError && error.status < 500 && !STACK_REFUSED.has(error.code))
        throw error;
      // Anything else is the node's or its stack's failure: the envelope opens only with this node's key, so the
      // client seals again for a new session (another node; its receipts checked as any).
      const cause =
        error instanceof NodeDown ? error.failure : error instanceof StackRefused ? error.refusal : error;
      throw new ConfidentialSessionFailedError(stack.nodeId, { cause });
    } finally {
      claim.end();
      deadline.end();
    }
  }

  /** One request on one leased stack; the lease is given back (or the stack retired) whatever happens. */
  async #sendOn(
    stack: LeasedStack,
    request: UpstreamRequest,
    fallback: boolean,
    signal: AbortSignal,
    work: RequestWork = { sends: 0, limit: this.#o.sendsPerRequest ?? 4, spare: 0 },
  ): Promise<UpstreamAnswer> {
    const urlRefused = await this.#addressGuard.refusal(stack.nodeUrl);
    if (urlRefused !== undefined) {
      // The URL the stack was bought with (the node's then): it may point somewhere the catalog never saw.
      await this.#c.pool.retire(stack, "node_url_refused");
      this.#c.onNodeError?.(stack.nodeId, "node_url_refused");
      this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
      this.#c.pool.avoidBuyingAt(stack.nodeId);
      throw new NodeDown(
        stack.nodeId,
        new NodeFailedError(`node ${stack.nodeId} is not called at its stack's address: ${urlRefused}`),
      );
    }
    const kept: Promise<void>[] = [];
    const relay = new StreamRelay();
    const firstByteMs = this.#o.firstByteTimeoutMs ?? 60_000;
    let attempts = 0;
    let timedOut = false;
    /** Whether a request reached the node before the request's deadline ended (an aborted attempt blames no one). */
    let contacted = false;
    const previous = await this.#previous(stack);
    // Signed before with no receipt: resent unchanged first, so no nonce is signed past a leaf without one.
    const pending = await this.#c.pool.pendingRequests(stack.stackId, previous[0]?.fields.leafIndex);
    // Requests pending there may be cut ones an earlier run of the gateway (or another gateway) remembered.
    if (pending.length > 0)
      await this.#cutRequests
        .load(
          stack.stackId,
          pending.map((p) => p.signed.nonce),
        )
        .catch((error: unknown) => this.#logger.error({ err: error }, "reading cut requests back failed"));
    // A sealed charge is only ever held for a leaf signed and left with no receipt, so only a resend's receipt can
    // settle one: a leaf this request signs afresh has none, and its receipt skips the database (a flush and a
    // transaction, once on every request's path).
    const resent = new Set(pending.map((p) => p.signed.nonce));
    /**
     * Nonces this request signed afresh while no pending request stood there: a pending one's nonce freed (its leaf
     * read found none, review of h-gw, HIGH-3) and signed for this request is its own, even where the body, nonce and
     * deadline, and so the signature, are the pending one's.
     */
    const signedAfresh = new Set<bigint>();
    const isResend = (nonce: bigint) => resent.has(nonce) && !signedAfresh.has(nonce);
    let refusedReceipt = false;
    /** This request's own signed nonce and body (not a pending one resent first). */
    let ownSigned: { nonce: bigint; json: string } | undefined;
    /** This request's nonce, given up: the node answered it with an error (`#giveUpErrorAnswer`). */
    let givenUp: bigint | undefined;
    // A sealed answer's size is the stream's (its chunks are hex of the OpenAI chunks), whichever way it comes.
    const caps = answerCapsFor(request.endpoint, request.maxUnits, {
      ...request.body,
      stream: request.stream || request.sealed !== undefined,
    });
    const sessionHash = request.sealed ? requestHash(request.body) : undefined;
    const client = new StackClient({
      deadlineSeconds: this.#o.deadlineSeconds,
      nodeUrl: stack.nodeUrl,
      account: this.#c.account,
      stackId: stack.stackId,
      chainId: this.#c.chainId,
      stackManager: this.#c.stackManager,
      nodeSigner: stack.nodeSigner,
      nodeId: stack.nodeId,
      stackUnits: stack.units,
      receipts: previous,
      pending,
      onSigned: ({ nonce }) => {
        // A pending request signed again (past its deadline) is still that request's resend.
        if (client.pending.some((p) => p.signed.nonce === nonce)) return;
        signedAfresh.add(nonce);
        // A cut request whose nonce was freed is no longer the one at that nonce: the leaf there is the new request's
        // and never measured against the old one's relayed chunks (review 4 of h-gw, LOW-B).
        this.#forgetCutRequest(stack.stackId, nonce);
      },
      // A pending request dropped (the node committed nothing there, it says): its held charge is settled now, at its
      // floor, and its leaf shown later as another client's is the node billing what it said it never committed.
      // A nonce freed by the leaf read keeps the node's signed denial (`denial`): the fraud proof should that leaf settle.
      onForgotten: (p, denial) => {
        const freed = this.#giveUpErrorAnswer(
          stack,
          { nonce: p.signed.nonce, reqHash: p.signed.reqHash },
          denial?.signature,
        ).freed;
        const settled = isResend(p.signed.nonce)
          ? this.#settleFreed(stack.stackId, p.signed.nonce, p.signed.reqHash)
          : undefined;
        // The denial is written before the nonce goes to another request (a write that fails fails this request).
        return denial === undefined ? settled : Promise.all([freed, settled]);
      },
      // A Regenerate of a stopped stream at the nonce its leaf read freed: the node denied that very request there.
      deniedAt: (nonce, reqHash) => this.#freedLeaves.deniedHere(stack.stackId, nonce, reqHash),
      readLeafFirst: (p) =>
        this.#cutRequests.get(stack.stackId, p.signed.nonce)?.reqHash === p.signed.reqHash.toLowerCase(),
      firstNonce: stack.nextNonce,
      // Within what the request has left to send: this attempt's first send, and one for each further node.
      resends: Math.max(0, Math.min(this.#o.resends ?? 2, work.limit - work.sends - 1 - work.spare)),
      resendDelayMs: this.#o.resendDelayMs ?? 100,
      ...caps,
      onReceipt: (receipt, verdict) => {
        if (!verdict.accepted) refusedReceipt = true;
        if (receipt.adopted) kept.push(this.#billedErrorAnswer(stack, receipt.fields));
        const keeping = this.#c.pool.keepReceipt(receipt, verdict.accepted);
        // A cut request's leaf: its own receipt (read, or resent), or one shown as another's (adopted) after the node
        // called it free. Never the receipt of a request signed afresh at its freed nonce (review 3 of h-gw, HIGH-2):
        // "Stop generating" then "Regenerate" signs the same body, so the same request hash, for a whole new answer.
        const cut = this.#cutRequests.get(stack.stackId, receipt.fields.leafIndex);
        const cutLeaf = isResend(receipt.fields.leafIndex) || receipt.adopted === true;
        if (cutLeaf && overbilledCut(cut, receipt.fields))
          kept.push(this.#cutCounts.overbilledCut(stack, receipt.fields, cut?.relayedUnits ?? 0n));
        this.#forgetCutRequest(stack.stackId, receipt.fields.leafIndex);
        void this.#firstDeadlines.forget(stack.stackId, receipt.fields.leafIndex);
        kept.push(
          isResend(receipt.fields.leafIndex)
            ? // A sealed request charged in full when it had no receipt (its stream cut) is settled by this one, if
              // the gateway accepted it (a refused receipt keeps the charge held for the settlement). Never by the
              // receipt of a request signed afresh at a freed nonce (review 2 of h-gw, HIGH-A): its hold was settled
              // when the nonce was freed (`onForgotten`), and the same body has the same request hash.
              keeping.then(() => this.#settleHeld(receipt.fields, verdict.accepted))
            : keeping,
        );
      },
      fetch: async (input, init) => {
        // A leaf read (the owner's signed GET): no request signed, sent or resent; within the request's deadline.
        // A node that stalls it is given up on as one that sends no first byte (review of h-gw, MEDIUM-2).
        if ((init?.method ?? "GET") === "GET") {
          if (!signal.aborted) contacted = true;
          const stalled = AbortSignal.timeout(firstByteMs);
          return nodeFetch(input, {
            headers: headerRecord(init?.headers),
            redirect: init?.redirect,
            signal: AbortSignal.any(init?.signal ? [init.signal, signal, stalled] : [signal, stalled]),
            dispatcher: this.#addressGuard.dispatcher,
          });
        }
        // Each resend of the same signed request replays the answer from its start.
        if (attempts++ > 0) relay.restart();
        if (timedOut) throw new FirstByteTimeout();
        // Recorded before the signed request leaves: the node may commit it and never answer.
        const headers = headerRecord(init?.headers);
        const nonce = headers[STACK_HEADERS.nonce] ?? null;
        const bound = headers[STACK_HEADERS.maxUnits] ?? null;
        if (nonce !== null && !isResend(BigInt(nonce)) && typeof init?.body === "string")
          ownSigned = { nonce: BigInt(nonce), json: init.body };
        if (nonce === null || !isResend(BigInt(nonce))) work.sends++;
        await this.#c.pool.markSigned(
          stack.stackId,
          nonce === null ? client.nextNonce : BigInt(nonce),
          bound === null ? request.maxUnits : BigInt(bound),
          typeof init?.body === "string"
            ? {
                path: (input instanceof URL
                  ? input
                  : new URL(String(input instanceof Request ? input.url : input))
                ).pathname,
                json: init.body,
                headers: Object.fromEntries(
                  Object.entries(headers).filter(([name]) => name.startsWith("x-atoma-")),
                ),
              }
            : undefined,
        );
        if (nonce !== null && !isResend(BigInt(nonce)) && typeof init?.body === "string")
          request.onSigned?.({
            stackId: stack.stackId,
            nonce: BigInt(nonce),
            maxUnits: bound === null ? request.maxUnits : BigInt(bound),
            pricePerMillion: stack.pricePerMillion,
            json: init.body,
          });
        let answer: Response;
        // Ends with the request (its deadline, the client gone), or when the node sends nothing for too long.
        const firstByte = new AbortController();
        if (signal.aborted) firstByte.abort(signal.reason);
        else signal.addEventListener("abort", () => firstByte.abort(signal.reason), { once: true });
        // Runs to the first part of the answer (an event, a JSON byte), not to the headers, then again between
        // parts: a node that sends headers (or comments) and stalls is given up on like one that sends nothing.
        let bodyEnded = false;
        const timer = setTimeout(() => {
          if (bodyEnded) return;
          timedOut = true;
          firstByte.abort(new FirstByteTimeout());
        }, firstByteMs);
        const stopTimer = () => {
          bodyEnded = true;
          clearTimeout(timer);
        };
        if (!signal.aborted) contacted = true;
        try {
          // Through the guard's agent: connected only to addresses checked when connecting (DNS rebinding).
          const dispatcher = this.#addressGuard.dispatcher;
          answer = watchBodyProgress(
            await nodeFetch(input, {
              method: init?.method,
              headers,
              body: init?.body,
              redirect: init?.redirect,
              signal: firstByte.signal,
              dispatcher,
            }),
            () => timer.refresh(),
            stopTimer,
          );
        } catch (error) {
          stopTimer();
          throw error;
        }
        const sealed = request.sealed;
        const sentSealed = typeof init?.body === "string" && sealedBody(init.body);
        if (!answer.ok || !answer.headers.get("content-type")?.includes("text/event-stream")) return answer;
        if (!sealed && !sentSealed) return answer;
        // A sealed stream: verified as the sealed answer it adds up to. Only this session's own request is relayed
        // chunk by chunk: a pending one resent first was sealed to another key (another session's), so its answer is
        // settled here, unread, and never reaches this session's client.
        // This session's own: its nonce and its envelope (a request pending at the same nonce is another's).
        const own =
          sealed !== undefined &&
          nonce !== null &&
          BigInt(nonce) === sealed.nonce &&
          typeof init?.body === "string" &&
          requestHash(JSON.parse(init.body) as Record<string, unknown>) === sessionHash;
        return collectSealedStream(answer, caps.streamLimits ?? {}, (event, position) => {
          if (own) sealed.onSealed?.(event, position);
        });
      },
    });
    let streamed = false;
    const startedAt = performance.now();
    const begunAt = this.#cutCounts.now();
    let firstChunkAt: number | undefined;
    /** Answer chunks the node sent for this request (a resend's replay of them not counted again). */
    let chunks = 0;
    const onChunk = (chunk: Record<string, unknown>) => {
      const fresh = relay.pass(chunk);
      if (!fresh) return;
      chunks++;
      firstChunkAt ??= performance.now();
      streamed = true;
      request.onChunk?.(fresh, stack.nodeId, fallback);
    };
    try {
      const verified = await this.#ask(client, stack, request, onChunk, signal);
      this.#unanswered.delete(stack.nodeId);
      this.#cutCounts.answered(stack.nodeId);
      assertWithinBound(stack.nodeId, verified.fields.units, request.maxUnits);
      this.#measure(stack.nodeId, verified, startedAt, firstChunkAt);
      return {
        response: verified.response,
        atoma: verified.atoma,
        request: verified.request,
        nodeId: stack.nodeId,
        units: verified.fields.units,
        pricePerMillion: stack.pricePerMillion,
        fallback,
      };
    } catch (error) {
      // The body cannot be signed (a lone UTF-16 surrogate, review of issue 12 LOW-2): the client's input, before
      // anything reached the node, which is not blamed.
      if (unsignable(error)) throw new InvalidInputError("the request holds text that is not valid Unicode");
      // The gateway's own hold lapsed before a nonce was signed (review M1): no fault of the node's.
      if (error instanceof NodeUnreachableError && error.cause instanceof StackLeaseLapsedError)
        throw error.cause;
      const unitsUsed = previous[0]?.fields.cumulativeUnits ?? 0n;
      if (
        error instanceof NodeRequestError &&
        error.code === "stack_exhausted" &&
        exhaustionIsFalse(stack.units, unitsUsed, request.maxUnits)
      ) {
        // The node refuses a stack the gateway's receipts show has room: its fault, not the stack's.
        this.#logger.warn(
          { nodeId: String(stack.nodeId), stackId: String(stack.stackId), unitsUsed: String(unitsUsed) },
          "a node called a stack with room left exhausted: the node is put aside, the stack kept",
        );
        this.#c.onNodeError?.(stack.nodeId, "false_exhaustion");
        this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
        throw new NodeDown(
          stack.nodeId,
          new NodeFailedError(`node ${stack.nodeId} refused a stack with room left`),
        );
      }
      if (error instanceof NodeRequestError && error.code === "stack_exhausted" && unitsUsed === 0n) {
        // A stack the gateway holds no receipt on, within the template slack of the request's bound: under signed
        // bounds an honest node never calls a fresh stack spent, so the node lies (or the request needs more than
        // a stack, which `lease` refuses first). The stack leaves the pool (closed, so it settles and refunds), the
        // node is put aside and not bought at, and another node is tried.
        await Promise.allSettled(kept);
        await this.#c.pool.retire(stack, "exhausted_unused");
        this.#c.onNodeError?.(stack.nodeId, "stack_exhausted");
        this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
        this.#c.pool.avoidBuyingAt(stack.nodeId);
        throw new NodeDown(stack.nodeId, new RequestExceedsStackError(stack.units, request.maxUnits));
      }
      if (
        error instanceof NodeRequestError &&
        CHAIN_CHECKED_REFUSALS.has(error.code) &&
        !(await this.#c.pool.chainBearsOutRefusal(stack))
      ) {
        // The chain says the stack is open, unexpired and the node's: retiring it and buying again would let a
        // node make the gateway buy stack after stack. The node is put aside (and not bought at), the stack kept.
        this.#logger.warn(
          { nodeId: String(stack.nodeId), stackId: String(stack.stackId), code: error.code },
          "a node refused a stack the chain says it serves: the node is put aside, the stack kept",
        );
        this.#c.onNodeError?.(stack.nodeId, "false_refusal");
        this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
        this.#c.pool.avoidBuyingAt(stack.nodeId);
        throw new NodeDown(
          stack.nodeId,
          new NodeFailedError(`node ${stack.nodeId} refused a stack the chain says it serves`),
        );
      }
      // Only the node's own error answer, in the stream of an attempt it began (200), says it failed and committed
      // nothing (review M1): a resend's refusal (409 `request_in_flight` while it still finishes the first) does not.
      if (streamed && failedInStream(error) && ownSigned && !request.sealed)
        givenUp = this.#giveUpErrorAnswer(stack, ownSigned).nonce;
      else if (
        (streamed || request.signal.aborted || error instanceof ResendInFlightError) &&
        ownSigned &&
        !request.sealed
      )
        await this.#cutRequest(stack, ownSigned, chunks);
      // The connection broke and the resend found the node still at the request (or, mid-stream, too busy for it): no
      // failure of the node's. The request stays pending, and the stack's next request reads its leaf first.
      // Its own request cut (not a pending one's leaf still in flight there, read first: that cut is counted once).
      if (
        ownSigned &&
        ((streamed && stillServing(error)) || error instanceof ResendInFlightError) &&
        !request.signal.aborted
      )
        await this.#cutCounts.cut(stack, begunAt);
      if (streamed && stillServing(error))
        throw new NodeFailedError(
          `the stream from node ${stack.nodeId} broke while the node was still at it`,
          {
            cause: error,
          },
        );
      // The deadline a request carries at the node's first 409 for it is the one the strike counts from (review 4 of
      // h-gw, MEDIUM-A): not one it carried before (a 401 `request_expired` renews it honestly), nor one it is signed
      // again with after (the 409, 5xx, 401 loop of HIGH-3).
      if (error instanceof ResendInFlightError)
        for (const p of client.pending) await this.#firstDeadlines.note(stack.stackId, signedAt(p.signed));
      if (
        error instanceof ResendInFlightError &&
        (await this.#inFlightPastDeadline(stack, client.pending, kept))
      )
        throw new NodeDown(
          stack.nodeId,
          new NodeFailedError(
            `node ${stack.nodeId} still holds a request past its deadline: its stack is retired`,
            {
              cause: error,
            },
          ),
        );
      if (error instanceof ResendInFlightError)
        throw new NodeDown(
          stack.nodeId,
          new NodeFailedError(`the request to node ${stack.nodeId} broke while the node was still at it`, {
            cause: error,
          }),
        );
      const lied =
        error instanceof ResponseVerificationError ||
        error instanceof OverbilledReceiptError ||
        refusedReceipt;
      const refusal = error instanceof NodeRequestError && STACK_REFUSED.has(error.code) ? error : undefined;
      if (refusal || lied) {
        await Promise.allSettled(kept);
        const reason =
          refusal?.code ?? (error instanceof OverbilledReceiptError ? "overbilled" : codeOf(error));
        await this.#c.pool.retire(stack, reason);
        // The gateway's own size cap on a long answer: the stack is retired (its resend would pass the cap again),
        // the node kept in rotation (an honest long answer passes it; review speed-gwfix, B-1).
        if (lied && !(error instanceof AnswerTooLargeError)) {
          this.health.remove(stack.nodeId, reason);
          if (refusedReceipt) this.#proveInBackground(stack);
          this.#logger.error(
            { nodeId: String(stack.nodeId), stackId: String(stack.stackId), err: error },
            "a node's receipt failed verification: the node leaves rotation, the stack is retired and its receipts kept",
          );
        }
        if (refusal && !streamed) throw new StackRefused(refusal);
        // A pending request's leaf or resend lied before this request's own body reached the node: another node serves
        // this one (the lie is no failure of its own).
        if (lied && ownSigned === undefined && !streamed)
          throw new NodeDown(stack.nodeId, this.#failure(error, stack));
      }
      const failure = this.#failure(error, stack);
      // The client gone, or the deadline ended before anything reached this node: not its fault.
      const blameless = request.signal.aborted || (signal.aborted && !contacted);
      if (!blameless) this.#c.onNodeError?.(stack.nodeId, timedOut ? "first_byte_timeout" : codeOf(failure));
      if (blameless) throw failure;
      if (!nodeDown(error, timedOut))
        throw !streamed && !request.sealed && refusesRequest(failure)
          ? new NodeRefused(stack.nodeId, failure)
          : failure;
      this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
      if (attempts > 0 && !(error instanceof NodeRequestError && error.status === 429))
        this.#noReceipt(stack);
      throw streamed ? failure : new NodeDown(stack.nodeId, failure);
    } finally {
      await Promise.allSettled(kept);
      // What the accepted receipts show, plus the signed bound of every request after them: a refused receipt's
      // running total is the node's word, never the gateway's.
      const pending = client.pending.filter((p) => p.signed.nonce !== givenUp);
      this.#c.pool.setPending(stack.stackId, pending);
      const held = client.unitsHeld;
      // biome-ignore lint/complexity/useMathMinMax: bigints
      const unitsUsed = held < stack.units ? held : stack.units;
      await this.#c.pool.release(stack, {
        unitsUsed,
        nextNonce: givenUp !== undefined && client.nextNonce === givenUp + 1n ? givenUp : client.nextNonce,
      });
    }
  }

  /** Whether a stack may be bought for a request of `keyId` (`stackPurchasesPerKey`); always for one with no key. */
  #mayBuyFor(keyId: string | undefined): boolean {
    if (keyId === undefined) return true;
    const since = Date.now() - PURCHASE_WINDOW_MS;
    const recent = (this.#purchases.get(keyId) ?? []).filter((at) => at > since);
    if (recent.length === 0) this.#purchases.delete(keyId);
    else this.#purchases.set(keyId, recent);
    return recent.length < (this.#o.stackPurchasesPerKey ?? 8);
  }

  #bought(keyId: string | undefined): void {
    if (keyId === undefined) return;
    const now = Date.now();
    // Keys that bought nothing in the window are forgotten once many are remembered.
    if (this.#purchases.size > MAX_PURCHASING_KEYS)
      for (const [key, times] of this.#purchases)
        if ((times.at(-1) ?? 0) <= now - PURCHASE_WINDOW_MS) this.#purchases.delete(key);
    const recent = this.#purchases.get(keyId) ?? [];
    recent.push(now);
    this.#purchases.set(keyId, recent);
  }

  /** A refusal another node proved wrong by serving the request: skipped for its features, or put aside after a few. */
  #refusedServable(
    refusal: NodeRefused,
    features: readonly string[],
    keyId: string | undefined,
    weight: number,
  ): void {
    const { nodeId } = refusal;
    const proven = this.#refusals.proven(nodeId, features, keyId, weight);
    // A key's further refusals in the run tell nothing more against the node (they may be its own over-limit inputs).
    if (proven.skipped || !proven.newKey) return;
    this.health.checked(nodeId, false);
    if (proven.inARow < (this.#o.refusalLimit ?? 3)) return;
    this.#c.onNodeError?.(nodeId, "refused_servable");
    this.health.coolDown(nodeId, this.#o.cooldownMs ?? 30_000);
    this.#logger.warn(
      { nodeId: String(nodeId), inARow: proven.inARow, code: refusal.refusal.code },
      "a node refused requests of several keys in a row that other nodes served: it is put aside",
    );
  }

  /**
   * The node ended this request's stream with an error answer (it failed, it says, so it committed nothing): the
   * request is not resent (an honest node would generate the whole answer again, unseen) and its nonce goes to the
   * stack's next request, as for a request refused outright. A node that committed it anyway holds two signatures at
   * that leaf: the next request's receipt there is what its settlement is challenged with, and a receipt it shows
   * for this one (`#billedErrorAnswer`) puts it out of rotation. The key is charged nothing (`cutStreamCharge`).
   */
  #giveUpErrorAnswer(
    stack: LeasedStack,
    own: { nonce: bigint; json: string } | { nonce: bigint; reqHash: string },
    denial?: Hex,
  ): { nonce: bigint; freed: Promise<void> } {
    const reqHash =
      "reqHash" in own ? own.reqHash : requestHash(JSON.parse(own.json) as Record<string, unknown>);
    // Its first deadline always from the database: a request signed afresh there with the same body has the same hash.
    void this.#firstDeadlines.forget(stack.stackId, own.nonce, true);
    const freed = this.#freedLeaves.free(stack.stackId, own.nonce, reqHash, denial);
    freed.catch((error: unknown) => this.#logger.error({ err: error }, "remembering a freed leaf failed"));
    return { nonce: own.nonce, freed };
  }

  /** A request left with no receipt after its client stopped it or its stream was cut (`#cutRequests`). */
  async #cutRequest(stack: LeasedStack, own: { nonce: bigint; json: string }, chunks: number): Promise<void> {
    const cut = cutRequest(requestHash(JSON.parse(own.json) as Record<string, unknown>), own.json, chunks);
    await this.#cutRequests
      .set(stack.stackId, own.nonce, cut)
      .catch((error: unknown) => this.#logger.error({ err: error }, "remembering a cut request failed"));
  }

  /** Forgets a cut request once its leaf is settled or its nonce signed afresh (never fails the request: logged). */
  #forgetCutRequest(stackId: bigint, nonce: bigint): void {
    this.#cutRequests
      .delete(stackId, nonce)
      .catch((error: unknown) => this.#logger.warn({ err: error }, "forgetting a cut request failed"));
  }

  /** A receipt for a request the node answered with an error: it billed what it said failed, and leaves rotation. */
  async #billedErrorAnswer(
    stack: LeasedStack,
    fields: { stackId: bigint; leafIndex: bigint; reqHash: string },
  ): Promise<void> {
    const shown = await this.#freedLeaves
      .shownAfterFreed(fields.stackId, fields.leafIndex, fields.reqHash)
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, "looking up a freed leaf failed");
        return false;
      });
    if (!shown) return;
    this.#c.onNodeError?.(stack.nodeId, "billed_error_answer");
    this.health.remove(stack.nodeId, "billed_error_answer");
    this.#logger.error(
      { nodeId: String(stack.nodeId), stackId: String(fields.stackId), leaf: String(fields.leafIndex) },
      "a node signed a receipt for a request it answered with an error: it leaves rotation, the receipt is kept",
    );
  }

  /**
   * The node still answers 409 `request_in_flight` for a pending request of the stack past its signed deadline and
   * `inFlightGraceMs` (review 2 of h-gw, MEDIUM-E): a request it can no longer serve, holding the stack's next nonce
   * for ever. The stack is retired (closed on-chain, as an idle stack, so the node settles it and what is left comes
   * back), each such request's held charge left to the stack's settlement, and the node struck: put aside, and
   * counted as a signed request left with no receipt (`unansweredLimit`). True when it did so.
   */
  async #inFlightPastDeadline(
    stack: LeasedStack,
    pending: readonly PendingRequest[],
    kept: readonly Promise<void>[],
  ): Promise<boolean> {
    const cutoff = BigInt(Math.floor((Date.now() - (this.#o.inFlightGraceMs ?? 60_000)) / 1000));
    const firsts = await Promise.all(
      pending.map((p) => this.#firstDeadlines.first(stack.stackId, signedAt(p.signed))),
    );
    const stale = pending.filter((_, i) => (firsts[i] ?? 0n) < cutoff);
    if (stale.length === 0) return false;
    await Promise.allSettled(kept);
    await this.#c.pool.retire(stack, "request_in_flight_past_deadline");
    // Each one's held charge waits for the stack's settlement (`settleBySettlement`): the node still holds the
    // request's signature and may commit and bill it there (review 3 of h-gw, LOW).
    for (const p of stale) {
      this.#forgetCutRequest(stack.stackId, p.signed.nonce);
      await this.#firstDeadlines.forget(stack.stackId, p.signed.nonce);
    }
    this.#c.onNodeError?.(stack.nodeId, "in_flight_past_deadline");
    this.health.coolDown(stack.nodeId, this.#o.cooldownMs ?? 30_000);
    this.#noReceipt(stack);
    this.#logger.error(
      {
        nodeId: String(stack.nodeId),
        stackId: String(stack.stackId),
        nonces: stale.map((p) => String(p.signed.nonce)),
      },
      "a node still holds a request past its deadline and grace: its stack is retired and the node struck",
    );
    return true;
  }

  /** A signed request the node left with no receipt: past `unansweredLimit` in a row, the node leaves rotation. */
  #noReceipt(stack: LeasedStack): void {
    const count = (this.#unanswered.get(stack.nodeId) ?? 0) + 1;
    this.#unanswered.set(stack.nodeId, count);
    if (count < (this.#o.unansweredLimit ?? 3)) return;
    this.health.remove(stack.nodeId, "signed_requests_unanswered");
    this.#logger.error(
      { nodeId: String(stack.nodeId), stackId: String(stack.stackId), unanswered: count },
      "a node left signed requests in a row with no receipt: it leaves rotation (each may be a leaf it bills)",
    );
  }

  /** Submits a fraud proof from the stack's kept receipts, when they hold one (a refused receipt's). */
  #proveInBackground(stack: LeasedStack): void {
    this.#c.pool
      .proveFraud(stack.stackId, stack.units)
      .catch((error: unknown) =>
        this.#logger.warn(
          { stackId: String(stack.stackId), nodeId: String(stack.nodeId), err: error },
          "proving a refused receipt's fraud failed: the watcher challenges the settlement",
        ),
      );
  }

  /** Time to the first token, and tokens per second after it, into the node's moving averages. */
  #measure(nodeId: bigint, verified: Verified, startedAt: number, firstChunkAt: number | undefined): void {
    const end = performance.now();
    const first = firstChunkAt ?? end;
    const usage = verified.response.usage as { completion_tokens?: unknown } | undefined;
    const tokens = typeof usage?.completion_tokens === "number" ? usage.completion_tokens : undefined;
    const seconds = (firstChunkAt === undefined ? end - startedAt : end - first) / 1000;
    this.health.served(nodeId, first - startedAt, tokens && seconds > 0 ? tokens / seconds : undefined);
  }

  async #ask(
    client: StackClient,
    stack: LeasedStack,
    request: UpstreamRequest,
    onChunk: (chunk: Record<string, unknown>) => void,
    signal: AbortSignal,
  ): Promise<Verified> {
    const giveUpAt = Date.now() + this.#freshWaitMs;
    for (;;) {
      try {
        return await call(client, request, onChunk, { account: this.#c.account, stackId: stack.stackId });
      } catch (error) {
        const unseen = error instanceof NodeRequestError && error.code === "unknown_stack";
        if (!(unseen && stack.fresh && Date.now() < giveUpAt && !signal.aborted)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** What the client is told: the node's refusal of the request as it is, anything else as the gateway's 502. */
  #failure(error: unknown, stack: LeasedStack): unknown {
    // A node's 401 or 403 refuses the gateway's signed request, never the client's key (review of issue 12, LOW-5).
    if (error instanceof NodeRequestError && (error.status === 401 || error.status === 403))
      return new NodeFailedError(`node ${stack.nodeId} refused the gateway's signed request`, {
        cause: error,
      });
    if (error instanceof NodeRequestError && error.status < 500) return error;
    if (error instanceof NodeFailedError) return error;
    if (error instanceof ResponseVerificationError || error instanceof NodeUnreachableError) return error;
    this.#logger.warn({ nodeId: String(stack.nodeId), err: error }, "a node failed a request");
    return new NodeFailedError(`node ${stack.nodeId} failed the request`, { cause: error });
  }

  async #previous(stack: LeasedStack): Promise<KeptReceipt[]> {
    const last = await this.#c.pool.lastReceipt(stack.stackId);
    return last ? [last] : [];
  }
}

/**
 * A stack just bought at a node the ranking left out (none of the ranked nodes took the purchase, so the chain drew
 * one): usable when the request allows the
 * node, takes fallbacks, and the node is in rotation and not tried yet (it may be cooling down: it is the stack
 * there is).
 */
function usableFallback(
  node: CatalogNode,
  preferences: ProviderPreferences,
  health: NodeHealthBook,
  tried: ReadonlySet<bigint>,
): boolean {
  return (
    preferences.allowFallbacks &&
    allowedBy(preferences, node) &&
    !health.isRemoved(node.nodeId) &&
    !tried.has(node.nodeId)
  );
}

const sealedBody = (json: string) => json.startsWith('{"atoma_confidential"');
/** A pending request as `FirstDeadlines` keeps it. */
const signedAt = (signed: PendingRequest["signed"]): SignedAtNonce => ({
  nonce: signed.nonce,
  reqHash: signed.reqHash,
  deadline: deadlineOf(signed),
});

const deadlineOf = (signed: { headers: Record<string, string> }) =>
  BigInt(signed.headers[STACK_HEADERS.deadline] ?? "0");

const codeOf = (error: unknown) =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "unknown";

/** The SDK could not sign the body: its canonical JSON refused it (text that is not valid Unicode). */
function unsignable(error: unknown): boolean {
  return (
    error instanceof InvalidUnicodeError ||
    (error instanceof Error && error.cause instanceof InvalidUnicodeError)
  );
}

/**
 * A resend's refusal that says the node is still at the request or busy ("not yet", "already serving"): the SDK's
 * `ResendInFlightError` (409 `request_in_flight`, `stack_busy` to every resend), or 429.
 */
function stillServing(error: unknown): boolean {
  return error instanceof ResendInFlightError || (error instanceof NodeRequestError && error.status === 429);
}

/** A node's refusal of the request itself (not of its stack, not for load): another node may still serve it. */
function refusesRequest(failure: unknown): failure is NodeRequestError {
  return (
    failure instanceof NodeRequestError &&
    failure.status >= 400 &&
    failure.status < 500 &&
    failure.status !== 429 &&
    !STACK_REFUSED.has(failure.code)
  );
}

/** A failure another node may not have: the node refused for load (429) or failed (5xx), or did not answer. */
function nodeDown(error: unknown, timedOut: boolean): boolean {
  if (timedOut || error instanceof NodeUnreachableError) return true;
  return error instanceof NodeRequestError && (error.status === 429 || error.status >= 500);
}

const PATHS = {
  chat: "/v1/chat/completions",
  completions: "/v1/completions",
  embeddings: "/v1/embeddings",
} as const;

async function call(
  client: StackClient,
  request: UpstreamRequest,
  onChunk: (chunk: Record<string, unknown>) => void,
  signer: { account: LocalAccount; stackId: bigint },
): Promise<Verified> {
  if (request.sealed) {
    // The client sealed to this stack, nonce and deadline: they are signed exactly, over the envelope unchanged.
    const signed = await signStackRequest(signer.account, client.domain, {
      stackId: signer.stackId,
      body: request.body,
      nonce: request.sealed.nonce,
      deadline: request.sealed.deadline,
      maxUnits: request.maxUnits,
    });
    return client.sendPresigned(PATHS[request.endpoint], signed);
  }
  // The request's bound is signed as its maxUnits: the node cannot claim more for its leaf.
  const bounded = { maxUnits: request.maxUnits };
  switch (request.endpoint) {
    case "embeddings":
      return client.embeddings(request.body, bounded);
    case "chat":
      return request.stream
        ? client.chatStream(request.body, onChunk, bounded)
        : client.chat(request.body, bounded);
    case "completions":
      return request.stream
        ? client.completionsStream(request.body, onChunk, bounded)
        : client.completions(request.body, bounded);
  }
}

function listing(model: CatalogModel): ModelListing {
  return {
    confidentialOnly:
      model.tasks.length > 0 &&
      model.tasks.every((task) => task.securityLevel === SecurityLevel.Confidential),
    id: model.name,
    created: model.firstSeen,
    nodeIds: nodesOf(model).map((node) => node.nodeId),
    price: priceSpread(model),
  };
}
