import {
  type Collateral,
  fetchPccsCollateral,
  type PccsFetchLimits,
  type TcbStatus,
  verifyTdxQuote,
} from "@atoma/confidential";
import type { Logger } from "@atoma/core";
import { EvidenceSourceError } from "./errors.js";

/** How long a verifier takes collateral after its issue, by default (`DEFAULT_MAX_COLLATERAL_AGE_SECONDS`). */
const WEEK_MS = 7 * 24 * 3_600_000;
/** Every TCB status: the node checks that fetched collateral is genuine and for its platform, not how it rates it. */
const ANY_TCB: readonly TcbStatus[] = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
];

export interface CollateralRefresherOptions {
  /** The PCCS (or Intel PCS) base URL, e.g. `https://pccs.example:8081/sgx/certification/v4/`. */
  pccsUrl: string;
  /** Collateral already held (the collateral file's), served until a refresh replaces it. */
  initial?: Collateral | undefined;
  logger: Logger;
  /** Unix milliseconds. @default Date.now */
  now?: (() => number) | undefined;
  /** The age past which clients refuse collateral (`maxCollateralAgeSeconds`). @default 7 days */
  maxAgeMs?: number | undefined;
  /** How long before the collateral ages out (or reaches its nextUpdate) it is refreshed. @default 2 days */
  marginMs?: number | undefined;
  /** How long after a failed refresh the next is tried. @default 10 minutes */
  retryMs?: number | undefined;
  /** The DCAP root CA (DER); Intel's when omitted. Fetched collateral must verify the node's own quote under it. */
  rootCaDer?: Buffer | undefined;
  /**
   * How long one refresh may take in all: past it the refresh fails (the held collateral kept, tried again `retryMs`
   * later), whatever the fetch still waits on. @default 2 minutes
   */
  fetchTimeoutMs?: number | undefined;
  /** Each PCCS answer's limits (the default fetch's). @default 30 s and 1 MiB each */
  pccsLimits?: PccsFetchLimits | undefined;
  /** How collateral is fetched for a quote. @default `fetchPccsCollateral` (HTTP to `pccsUrl`, bounded) */
  fetchCollateral?: ((pccsUrl: string, quote: Uint8Array) => Promise<Collateral>) | undefined;
}

interface Dates {
  issuedAtMs: number;
  nextUpdateMs: number;
  /** The TCB info's `tcbEvaluationDataNumber` (what clients' `minTcbEvaluationDataNumber` is held against). */
  evaluation: number;
}

/**
 * The oldest issue date and the earliest nextUpdate of the collateral's TCB info and QE identity, and the TCB info's
 * evaluation number.
 */
export function collateralDates(collateral: Collateral): Dates {
  const read = (text: string) => {
    const value = JSON.parse(text) as {
      issueDate?: unknown;
      nextUpdate?: unknown;
      tcbEvaluationDataNumber?: unknown;
    };
    return {
      issued: Date.parse(String(value.issueDate)),
      next: Date.parse(String(value.nextUpdate)),
      evaluation: Number(value.tcbEvaluationDataNumber),
    };
  };
  const tcb = read(collateral.tcb_info);
  const qe = read(collateral.qe_identity);
  const dates = {
    issuedAtMs: Math.min(tcb.issued, qe.issued),
    nextUpdateMs: Math.min(tcb.next, qe.next),
    evaluation: tcb.evaluation,
  };
  if (!Number.isFinite(dates.issuedAtMs) || !Number.isFinite(dates.nextUpdateMs))
    throw new Error("the collateral has no issue date or nextUpdate");
  if (!Number.isSafeInteger(dates.evaluation))
    throw new Error("the collateral's TCB info has no evaluation number");
  return dates;
}

/**
 * Keeps the node's Intel collateral (TCB info, QE identity, CRLs) fresh from a PCCS: before it ages out of what
 * clients take (a week after its issue) or reaches its nextUpdate, less a margin, it is fetched again for the
 * node's own latest quote (its FMSPC and PCK CA) over HTTP. Fetched collateral replaces the held one only when it
 * verifies that quote (Intel-signed TCB info and QE identity for this platform, CRLs signed and in date), is not
 * older than the held one and its TCB info is from no earlier Intel TCB evaluation (`tcbEvaluationDataNumber`); a failed or refused refresh keeps the held collateral and is tried again `retryMs` later.
 * `collateral(quote)` is what the evidence source calls with each quote: it never waits on a refresh once something
 * is held (the refresh runs in the background), only for the very first collateral.
 */
export class CollateralRefresher {
  readonly #o: CollateralRefresherOptions;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #marginMs: number;
  readonly #retryMs: number;
  #current: Collateral | undefined;
  #dates: Dates | undefined;
  #quote: Uint8Array | undefined;
  #refreshing: Promise<boolean> | undefined;
  /** Unix milliseconds before which no refresh is tried again (after a failure). */
  #retryAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CollateralRefresherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#maxAgeMs = options.maxAgeMs ?? WEEK_MS;
    this.#marginMs = options.marginMs ?? 2 * 24 * 3_600_000;
    this.#retryMs = options.retryMs ?? 600_000;
    if (options.initial) {
      this.#current = options.initial;
      this.#dates = collateralDates(options.initial);
    }
  }

  /** The collateral held now (undefined before the first). */
  get current(): Collateral | undefined {
    return this.#current;
  }

  /** Unix milliseconds from which the held collateral is refreshed (0: nothing held yet). */
  get dueAtMs(): number {
    if (!this.#dates) return 0;
    return Math.min(this.#dates.issuedAtMs + this.#maxAgeMs, this.#dates.nextUpdateMs) - this.#marginMs;
  }

  /**
   * The collateral to send with `quote` (remembered: refreshes fetch for it). The first call with nothing held waits
   * for a fetch (`EvidenceSourceError` when it fails); later ones get the held collateral at once, a refresh started
   * in the background when it is due.
   */
  async collateral(quote: Uint8Array): Promise<Collateral> {
    this.#quote = quote;
    if (!this.#current) {
      await this.refresh();
      if (!this.#current)
        throw new EvidenceSourceError(`no Intel collateral could be fetched from ${this.#o.pccsUrl} yet`);
      return this.#current;
    }
    if (this.#now() >= this.dueAtMs) void this.refresh();
    return this.#current;
  }

  /**
   * Fetches collateral for the latest quote now (one at a time; a call during a refresh joins it). True when the
   * fetched collateral replaced the held one; false when there is no quote yet, the fetch failed or it was refused
   * (logged; the held collateral is kept).
   */
  refresh(): Promise<boolean> {
    if (this.#refreshing) return this.#refreshing;
    if (this.#current && this.#now() < this.#retryAt) return Promise.resolve(false);
    const quote = this.#quote;
    if (!quote) return Promise.resolve(false);
    this.#refreshing = this.#fetchChecked(quote).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Checks every `pollMs` whether a refresh is due (a node quoting rarely still refreshes in time). */
  start(pollMs = 3_600_000): void {
    this.stop();
    this.#timer = setInterval(() => {
      if (this.#quote && this.#now() >= this.dueAtMs) void this.refresh();
    }, pollMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #fetchChecked(quote: Uint8Array): Promise<boolean> {
    const logger = this.#o.logger;
    const timeoutMs = this.#o.fetchTimeoutMs ?? 120_000;
    // Past the timeout the default fetch's requests still running are aborted (their sockets closed).
    const giveUp = new AbortController();
    const fetchCollateral =
      this.#o.fetchCollateral ??
      ((url: string, q: Uint8Array) =>
        fetchPccsCollateral(url, q, { ...this.#o.pccsLimits, signal: giveUp.signal }));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        giveUp.abort();
        reject(new Error(`the refresh took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    });
    try {
      // A PCCS that stalls must not hold the refresh (and every later one, which joins it) for good.
      const fetched = await Promise.race([fetchCollateral(this.#o.pccsUrl, quote), timedOut]).finally(() =>
        clearTimeout(timer),
      );
      const dates = collateralDates(fetched);
      // Genuine and for this platform: Intel-signed TCB info and QE identity for the quote's FMSPC, CRLs in date.
      verifyTdxQuote(quote, fetched, {
        nowSeconds: Math.floor(this.#now() / 1000),
        allowedTcbStatuses: ANY_TCB,
        ...(this.#o.rootCaDer ? { rootCaDer: this.#o.rootCaDer } : {}),
      });
      if (this.#dates && dates.issuedAtMs < this.#dates.issuedAtMs)
        throw new Error("the PCCS served collateral older than the one held");
      // Intel re-issues `update=standard` TCB info with fresh dates for an earlier evaluation: adopting it would make
      // clients holding a minTcbEvaluationDataNumber refuse this (honest) node.
      if (this.#dates && dates.evaluation < this.#dates.evaluation)
        throw new Error(
          `the PCCS served TCB info from evaluation ${dates.evaluation}, earlier than the held ${this.#dates.evaluation}`,
        );
      const replaced = this.#current !== undefined;
      this.#current = fetched;
      this.#dates = dates;
      this.#retryAt = 0;
      logger.info(
        { issuedAt: new Date(dates.issuedAtMs).toISOString(), replaced },
        "refreshed the Intel collateral from the PCCS",
      );
      return true;
    } catch (error) {
      this.#retryAt = this.#now() + this.#retryMs;
      const code = (error as { code?: unknown }).code;
      logger.warn(
        {
          pccsUrl: this.#o.pccsUrl,
          ...(typeof code === "string" ? { code } : {}),
          reason: error instanceof Error ? error.message : String(error),
          ...(this.#dates ? { heldUntil: new Date(this.dueAtMs + this.#marginMs).toISOString() } : {}),
        },
        "refreshing the Intel collateral failed: the collateral held is kept",
      );
      return false;
    }
  }
}
