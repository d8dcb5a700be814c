import { randomBytes } from "node:crypto";
import { costOfUnits, type Logger, silentLogger } from "@atoma/core";
import { ConfidentialSessionsExceededError, ConfidentialSessionUnknownError } from "../confidentialErrors.js";
import type { KeyRecord } from "../keys/keyRecord.js";
import type { KeyRateLimiter } from "../limits/keyRateLimiter.js";
import type { RateTicket } from "../limits/rateLimiter.js";
import type { Endpoint } from "../limits/requestBound.js";
import type { SpendLedger, SpendReservation } from "../limits/spendLedger.js";
import type { ConfidentialLease, ConfidentialUpstream } from "./confidentialUpstream.js";
import { MemorySessionSlots } from "./memorySessionSlots.js";
import type { SessionSlots } from "./sessionSlots.js";
import type { UpstreamAnswer } from "./upstream.js";

/** An open session: what the client seals to, and what the gateway reserved for it. */
export interface ConfidentialSession {
  id: string;
  keyId: string;
  model: string;
  endpoint: Endpoint;
  path: string;
  maxUnits: bigint;
  lease: ConfidentialLease;
  /** Unix seconds signed as the request's deadline (bound into the sealing context). */
  deadline: bigint;
  /** Unix milliseconds after which the session is gone (its stack, budget and tokens given back). */
  expiresAtMs: number;
  reservation: SpendReservation;
  ticket: RateTicket;
  maxWei: bigint;
  /** Unix milliseconds the session opened at, and its request took it (the slot's holding time is between). */
  openedAtMs: number;
  takenAtMs?: number | undefined;
  /** What holding the slot for the session's whole time costs the key at least (`holdUnitsPerMinute`). */
  holdWei: bigint;
  /** The session's slot in `SessionSlots`, released once (on settle, expiry or stop). */
  slotId: string;
  released: boolean;
  /**
   * Evidence for client nonces asked on this session. The node counts fresh quotes per source address, and all the
   * gateway's users share its address: a session gets `MAX_FRESH_QUOTES_PER_SESSION`, so one key cannot spend that
   * share on a loop of nonces (it must open sessions, each holding a stack, its budget and its allowance).
   */
  freshQuotes: number;
}

/** Fresh quotes one session may ask the node for (one, and one retry). */
export const MAX_FRESH_QUOTES_PER_SESSION = 2;

export interface ConfidentialSessionsComponents {
  upstream: ConfidentialUpstream;
  ledger: SpendLedger;
  limiter: KeyRateLimiter;
  /** The highest price per million units: the budget a session reserves is its bound at that price. */
  maxPricePerMillion: () => bigint;
  logger?: Logger | undefined;
  /** Unix milliseconds. @default Date.now */
  now?: (() => number) | undefined;
  /**
   * Where sessions and cool-downs count against their key's limits: `RedisSessionSlots` shares them across the
   * gateways on one Redis (and across a restart). @default in this process's memory
   */
  slots?: SessionSlots | undefined;
}

export interface ConfidentialSessionsOptions {
  /** How long a session waits for its sealed request. @default 60000 */
  ttlMs?: number | undefined;
  /** Seconds past the session's end that the signed deadline allows (a request sent just before it). @default 60 */
  deadlineSlackSeconds?: number | undefined;
  /** Open sessions one key may hold. @default 4 */
  maxPerKey?: number | undefined;
  /**
   * Open sessions one key may hold on one model: each holds a stack of the model's level-3 tasks, so one key must
   * not hold them all (its unused sessions only expire). @default 2 (half of the pool's 4 stacks a model, in tests)
   */
  maxPerKeyPerModel?: number | undefined;
  /**
   * How long a session that ended with nothing charged (expired unused, its request refused by the node, failed or
   * aborted) keeps counting against its key's limits: a key re-opening sessions as they end would otherwise hold its
   * share of the model's stacks for good, for free. @default the session's time (`ttlMs`)
   */
  unusedCooldownMs?: number | undefined;
  /**
   * The least a session costs its key for holding a level-3 stack: this many units a minute held (from its open
   * until its request takes it, or it expires), at the highest price, charged whatever it is served below that (the
   * units used count against it: a request using at least as much pays nothing more). A key squatting N stacks for
   * T minutes pays N × T × this many units. @default 6000 (100 units a second)
   */
  holdUnitsPerMinute?: number | undefined;
  /** How long a request in flight holds its slot at most (a crashed gateway's then frees itself). @default 600000 */
  inFlightHoldMs?: number | undefined;
}

/** How long an opening session's slot is held past its time before it is open (a crash mid-open frees it then). */
const OPENING_MARGIN_MS = 30_000;

interface Held {
  session: ConfidentialSession;
  timer: NodeJS.Timeout;
}

/**
 * The gateway's confidential sessions (their slots counted in `SessionSlots`: over Redis when gateways share one,
 * else in memory): each holds a stack on a confidential task (so its
 * nonce is the stack's next and no other request takes it), the key's rate allowance and the budget of its bound.
 * A session is used once, by its key; one never used expires and gives everything back, its nonce included (no
 * request was signed at it, so the stack has no gap). Ids are 128 random bits.
 */
export class ConfidentialSessions {
  readonly #c: ConfidentialSessionsComponents;
  readonly #ttlMs: number;
  readonly #slack: number;
  readonly #maxPerKey: number;
  readonly #maxPerKeyPerModel: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #open = new Map<string, Held>();
  /** Sessions taken by their request, not yet settled: their stack is still held, so they count as open. */
  readonly #inFlight = new Map<string, ConfidentialSession>();
  /**
   * Slots of sessions opening, open or in flight, and of cool-downs: checked and taken in one atomic step before the
   * allowance, budget or stack is awaited, so parallel opens of one key, on one gateway or several, cannot all pass.
   */
  readonly #slots: SessionSlots;
  readonly #cooldownMs: number;
  readonly #holdUnitsPerMinute: bigint;
  readonly #inFlightHoldMs: number;

  constructor(components: ConfidentialSessionsComponents, options: ConfidentialSessionsOptions = {}) {
    this.#c = components;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#slack = options.deadlineSlackSeconds ?? 60;
    this.#maxPerKey = options.maxPerKey ?? 4;
    this.#maxPerKeyPerModel = options.maxPerKeyPerModel ?? 2;
    this.#cooldownMs = options.unusedCooldownMs ?? this.#ttlMs;
    this.#now = components.now ?? Date.now;
    this.#logger = (components.logger ?? silentLogger).child({ module: "confidential-sessions" });
    this.#slots = components.slots ?? new MemorySessionSlots(this.#now);
    this.#holdUnitsPerMinute = BigInt(options.holdUnitsPerMinute ?? 6_000);
    this.#inFlightHoldMs = options.inFlightHoldMs ?? 600_000;
  }

  /** Sessions of a key open or with their request in flight. */
  countOf(keyId: string): number {
    return this.#heldBy(keyId).length;
  }

  #heldBy(keyId: string): ConfidentialSession[] {
    const held = [...this.#open.values()].map((h) => h.session);
    return [...held, ...this.#inFlight.values()].filter((session) => session.keyId === keyId);
  }

  /**
   * Opens a session: the key's limits on open sessions, in all and on the model (`ConfidentialSessionsExceededError`:
   * one key never holds every level-3 stack of a model with sessions it does not use), its rate allowance
   * and budget for `maxUnits` (given back when anything after fails), then a confidential stack.
   */
  async open(
    key: KeyRecord,
    request: { model: string; endpoint: Endpoint; path: string; maxUnits: bigint; ignore: readonly bigint[] },
  ): Promise<ConfidentialSession> {
    // Sessions whose request is in flight count too (the request still holds the stack), and cool-downs.
    const slotId = `sl_${randomBytes(12).toString("base64url")}`;
    const taken = await this.#slots.take(key.keyId, request.model, slotId, this.#ttlMs + OPENING_MARGIN_MS, {
      perKey: this.#maxPerKey,
      perKeyPerModel: this.#maxPerKeyPerModel,
    });
    if (!taken.taken)
      throw new ConfidentialSessionsExceededError(taken.limit, taken.retryAfterSeconds, taken.model);
    try {
      return await this.#openReserved(key, request, slotId);
    } catch (error) {
      await this.#release(key.keyId, request.model, slotId, 0);
      throw error;
    }
  }

  async #release(keyId: string, model: string, slotId: string, cooldownMs: number): Promise<void> {
    try {
      await this.#slots.release(keyId, model, slotId, cooldownMs);
    } catch (error) {
      // Its end frees it anyway (past the session's time, or `inFlightHoldMs` past its request).
      this.#logger.warn({ keyId, err: error }, "releasing a confidential session's slot failed");
    }
  }

  /** The rest of `open`, its slots reserved: once it returns, the session counts in `#open` instead. */
  async #openReserved(
    key: KeyRecord,
    request: { model: string; endpoint: Endpoint; path: string; maxUnits: bigint; ignore: readonly bigint[] },
    slotId: string,
  ): Promise<ConfidentialSession> {
    const tokens = Number(request.maxUnits);
    const ticket = await this.#c.limiter.take(key, tokens);
    const maxPrice = this.#c.maxPricePerMillion();
    const maxWei = costOfUnits(request.maxUnits, maxPrice);
    const holdWei = costOfUnits((this.#holdUnitsPerMinute * BigInt(this.#ttlMs)) / 60_000n, maxPrice);
    let reservation: SpendReservation;
    try {
      // The bound or the hold, whichever is more: either may be charged.
      // biome-ignore lint/complexity/useMathMinMax: bigints
      reservation = await this.#c.ledger.reserve(key.keyId, maxWei > holdWei ? maxWei : holdWei);
    } catch (error) {
      ticket.refund(tokens);
      throw error;
    }
    let lease: ConfidentialLease;
    try {
      lease = await this.#c.upstream.leaseConfidential(request.model, request.maxUnits, request.ignore);
    } catch (error) {
      ticket.refund(tokens);
      await this.#c.ledger.settle(reservation, 0n);
      throw error;
    }
    const openedAtMs = this.#now();
    const expiresAtMs = openedAtMs + this.#ttlMs;
    const session: ConfidentialSession = {
      id: `cs_${randomBytes(16).toString("base64url")}`,
      keyId: key.keyId,
      model: request.model,
      endpoint: request.endpoint,
      path: request.path,
      maxUnits: request.maxUnits,
      lease,
      deadline: BigInt(Math.floor(expiresAtMs / 1000) + this.#slack),
      expiresAtMs,
      reservation,
      ticket,
      maxWei,
      openedAtMs,
      holdWei,
      slotId,
      released: false,
      freshQuotes: 0,
    };
    const timer = setTimeout(() => void this.#expire(session.id), this.#ttlMs);
    timer.unref();
    this.#open.set(session.id, { session, timer });
    return session;
  }

  /** The key's open session `id`, left open; `ConfidentialSessionUnknownError` for any other (alike). */
  peek(id: string, keyId: string): ConfidentialSession {
    const held = this.#open.get(id);
    if (!held || held.session.keyId !== keyId || held.session.expiresAtMs <= this.#now())
      throw new ConfidentialSessionUnknownError();
    return held.session;
  }

  /**
   * Takes the key's open session `id` for its one request: no one can use it again. It keeps counting against the
   * key's limits until `settle` (its request still holds the stack).
   */
  take(id: string, keyId: string): ConfidentialSession {
    const session = this.peek(id, keyId);
    const held = this.#open.get(id);
    if (held) clearTimeout(held.timer);
    this.#open.delete(id);
    this.#inFlight.set(id, session);
    session.takenAtMs = this.#now();
    // The request holds the stack past the session's time: its slot too (freed on settle, or at its end).
    this.#slots
      .extend(session.keyId, session.model, session.slotId, this.#inFlightHoldMs)
      .catch((error: unknown) => this.#logger.warn({ err: error }, "extending a confidential slot failed"));
    return session;
  }

  /**
   * Charges the key what the verified receipt says and gives back the rest; without a receipt nothing, or
   * (`keepReservation`: sealed chunks reached the client, the node may bill the leaf up to its bound) all of it,
   * held in `sealed_charges` (written with the charge, see `SealedCharges`) until the leaf's receipt comes (the request is resent before the stack's next) and
   * says what the key pays. The session stops counting against the key's limits; one charged nothing (expired
   * unused, refused by the node, failed, aborted) counts on for the cool-down, so ending sessions for free never lets a
   * key hold its share of the model's stacks for good.
   */
  async settle(
    session: ConfidentialSession,
    answer: UpstreamAnswer | undefined,
    keepReservation = false,
    reqHash?: string | undefined,
  ): Promise<void> {
    if (!keepReservation) session.ticket.refund(Number(session.maxUnits - (answer?.units ?? 0n)));
    const used = answer
      ? costOfUnits(answer.units, answer.pricePerMillion)
      : keepReservation
        ? session.maxWei
        : 0n;
    // Holding the stack costs at least its hold, pro rata for the time held (until the request took it).
    const ttl = BigInt(this.#ttlMs);
    const heldMs = Math.max(
      0,
      Math.min((session.takenAtMs ?? this.#now()) - session.openedAtMs, this.#ttlMs),
    );
    const held = (session.holdWei * BigInt(Math.ceil(heldMs)) + ttl - 1n) / ttl;
    const cost = used > held ? used : held;
    const served = answer ? { model: session.model, units: answer.units } : undefined;
    this.#inFlight.delete(session.id);
    if (!session.released) {
      session.released = true;
      // One atomic step: the slot is never free between the request and its cool-down (when it used nothing).
      await this.#release(session.keyId, session.model, session.slotId, used === 0n ? this.#cooldownMs : 0);
    }
    try {
      // The held charge goes in the charge's own record (one journal line, one transaction): whenever the process
      // dies, either both are recorded or neither (the reservation then goes back whole), so a key is never given
      // back a charge it never paid, nor charged in full with nothing held to settle it.
      const hold =
        !answer && keepReservation
          ? {
              stackId: session.lease.stackId,
              nonce: session.lease.nonce,
              maxUnits: session.maxUnits,
              pricePerMillion: session.lease.pricePerMillion,
              // Only a receipt for this request settles the hold at its units (review s5 M2).
              reqHash,
              // Never below what holding the stack cost: a client aborting its sealed streams before their receipts
              // pays the hold, as one whose request was answered does.
              floorWei: held,
            }
          : undefined;
      // With its stack: a refund of the stack is split among the keys by what each was charged on it.
      await this.#c.ledger.settle(session.reservation, cost, served, hold, session.lease.stackId);
    } catch (error) {
      this.#logger.error({ keyId: session.keyId, err: error }, "settling a confidential request failed");
    }
  }

  /** Ends every open session (the gateway stops): stacks, budgets and allowances go back. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#open.keys()].map((id) => this.#expire(id)));
  }

  async #expire(id: string): Promise<void> {
    const held = this.#open.get(id);
    if (!held) return;
    clearTimeout(held.timer);
    this.#open.delete(id);
    const { session } = held;
    try {
      await this.#c.upstream.releaseConfidential(session.lease);
    } catch (error) {
      this.#logger.warn({ err: error }, "giving back an unused confidential session's stack failed");
    }
    await this.settle(session, undefined);
    this.#logger.debug({ keyId: session.keyId }, "a confidential session expired unused");
  }
}
