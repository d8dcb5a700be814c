import {
  type AttestationEvidence,
  bindingReportData,
  type EncryptionKeyPair,
  type Freshness,
  generateEncryptionKeyPair,
  type HexString,
} from "@atoma/confidential";
import { type Logger, silentLogger } from "@atoma/core";
import type { Address } from "viem";
import { AttestationRateLimitedError, AttestationUnavailableError } from "./errors.js";
import type { EvidenceSource } from "./evidenceSource.js";
import { QuoteBudgets } from "./quoteBudget.js";
import { ReplayGuard } from "./replayGuard.js";

/** The node signer's `ServedEvidence` statement for its posted epoch evidence (served beside it). */
export interface EvidenceStatement {
  nodeId: bigint;
  epoch: bigint;
  evidenceHash: HexString;
  signature: HexString;
}

/** The evidence a node published for an epoch: what it posts on-chain (its hash, key and expiry). */
export interface EpochEvidence {
  epoch: bigint;
  evidence: AttestationEvidence;
  encryptionPublicKey: HexString;
  /** Unix milliseconds. */
  producedAt: number;
}

export interface ConfidentialComputeOptions {
  source: EvidenceSource;
  /** The node's signing address (the one registered on-chain): every binding names it. */
  signingAddress: Address;
  /** The encryption key pair to start with. @default a fresh X25519 pair */
  keys?: EncryptionKeyPair | undefined;
  /** Fresh quotes for client nonces per second, and the burst. @default 2 per second, burst 8 */
  quotesPerSecond?: number | undefined;
  quoteBurst?: number | undefined;
  /**
   * Each source's (IP address, IPv6 /64) share of those quotes, so one griefer cannot spend them all.
   * @default a quarter of the whole rate, burst 2
   */
  quotesPerSecondPerSource?: number | undefined;
  quoteBurstPerSource?: number | undefined;
  /** How many nonce answers are kept, so asking again for the same nonce costs no quote. @default 1024 */
  nonceCacheSize?: number | undefined;
  /**
   * Whether a stack may carry sealed requests: its task is at security level 3, where Sampling Consensus does not
   * re-run requests (an attester would judge a sealed body an invalid request). @default the stack API checks
   * the stack's security level on-chain (3 only)
   */
  acceptsStack?: ((stackId: bigint) => Promise<boolean>) | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
}

/**
 * A confidential node's keys and evidence: the X25519 key pair requests are sealed to, the evidence for the
 * current epoch (re-produced each epoch and on key rotation), answers to client nonces (rate-limited and cached,
 * so nobody makes the node quote in a tight loop), and the guard against replayed sealed requests. The private
 * key never leaves this object but to open requests in memory.
 */
export class ConfidentialCompute {
  readonly source: EvidenceSource;
  readonly signingAddress: Address;
  readonly replays = new ReplayGuard();
  readonly acceptsStack: (stackId: bigint) => Promise<boolean>;
  /** Whether `acceptsStack` was given in code (tests, embedders): it then replaces the on-chain level check. */
  readonly gatesStacks: boolean;
  readonly #logger: Logger;
  readonly #budget: QuoteBudgets;
  readonly #cacheSize: number;
  readonly #nonceAnswers = new Map<string, Promise<AttestationEvidence>>();
  readonly #listeners: ((evidence: EpochEvidence) => void)[] = [];
  #keys: EncryptionKeyPair | undefined;
  #epoch: EpochEvidence | undefined;
  #statement: { of: EpochEvidence; statement: EvidenceStatement } | undefined;

  constructor(options: ConfidentialComputeOptions) {
    this.source = options.source;
    this.signingAddress = options.signingAddress;
    this.#keys = options.keys;
    this.acceptsStack = options.acceptsStack ?? (async () => true);
    this.gatesStacks = options.acceptsStack !== undefined;
    this.#logger = (options.logger ?? silentLogger).child({ module: "confidential" });
    const perSecond = options.quotesPerSecond ?? 2;
    const burst = options.quoteBurst ?? 8;
    this.#budget = new QuoteBudgets({
      perSecond,
      burst,
      perSourcePerSecond: options.quotesPerSecondPerSource ?? perSecond / 4,
      perSourceBurst: Math.min(burst, options.quoteBurstPerSource ?? 2),
      now: options.now,
    });
    this.#cacheSize = options.nonceCacheSize ?? 1024;
  }

  async #keyPair(): Promise<EncryptionKeyPair> {
    this.#keys ??= await generateEncryptionKeyPair();
    return this.#keys;
  }

  /** The X25519 public key requests are sealed to. */
  async publicKey(): Promise<HexString> {
    return (await this.#keyPair()).publicKey;
  }

  /** The private key, for opening a request in memory (and nothing else). */
  async privateKey(): Promise<HexString> {
    return (await this.#keyPair()).privateKey;
  }

  async #produce(freshness: Freshness): Promise<AttestationEvidence> {
    const { publicKey } = await this.#keyPair();
    const reportData = bindingReportData({
      signingAddress: this.signingAddress,
      encryptionPublicKey: publicKey,
      freshness,
    });
    return this.source.produce(reportData, publicKey);
  }

  /** Produces and keeps the evidence for `epoch`; listeners (the on-chain poster) hear of it. */
  async attestEpoch(epoch: bigint): Promise<EpochEvidence> {
    const evidence = await this.#produce({ kind: "epoch", epoch });
    const current: EpochEvidence = {
      epoch,
      evidence,
      encryptionPublicKey: evidence.encryptionPublicKey,
      producedAt: Date.now(),
    };
    this.#epoch = current;
    this.#logger.info({ epoch: String(epoch), kind: evidence.kind }, "attested for the epoch");
    for (const listener of this.#listeners) listener(current);
    return current;
  }

  /** The evidence of the latest epoch attested, if any. */
  get epochEvidence(): EpochEvidence | undefined {
    return this.#epoch;
  }

  /** Keeps the signed statement for `evidence` once its post is final on-chain (the attestation poster calls this). */
  vouch(evidence: EpochEvidence, statement: EvidenceStatement): void {
    this.#statement = { of: evidence, statement };
  }

  /** Stops serving the statement for `evidence` (its post is no longer on the chain); the poster posts it again. */
  withdraw(evidence: EpochEvidence): void {
    if (this.#statement?.of === evidence) this.#statement = undefined;
  }

  /**
   * What `GET /v1/attestation` serves without a nonce: the latest evidence vouched for (its post final on-chain)
   * with its signed statement, so a newer evidence whose post may still be reorganised away is not vouched for
   * yet; before any is vouched for, the latest evidence without a statement.
   */
  get servedEpoch(): { evidence: EpochEvidence; statement?: EvidenceStatement } | undefined {
    const kept = this.#statement;
    if (kept) return { evidence: kept.of, statement: kept.statement };
    return this.#epoch && { evidence: this.#epoch };
  }

  /** Calls `listener` with each new epoch evidence (after each epoch and each key rotation). */
  onEpochEvidence(listener: (evidence: EpochEvidence) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * A new encryption key pair: nonce answers for the old key are dropped and the current epoch is attested again
   * (requests sealed to the old key no longer open: their clients fetch the new evidence and re-seal).
   */
  async rotateKey(keys?: EncryptionKeyPair): Promise<EpochEvidence | undefined> {
    this.#keys = keys ?? (await generateEncryptionKeyPair());
    this.#nonceAnswers.clear();
    this.#logger.info({}, "rotated the encryption key");
    return this.#epoch ? this.attestEpoch(this.#epoch.epoch) : undefined;
  }

  /**
   * Evidence bound to a client's 32-byte nonce. The same nonce asked again gets the same answer (cached); a new
   * one spends a token of `source`'s share of the quote budget and one of the whole, `AttestationRateLimitedError`
   * (429) when either is spent.
   */
  forNonce(nonce: HexString, source = "unknown"): Promise<AttestationEvidence> {
    const key = nonce.toLowerCase();
    const cached = this.#nonceAnswers.get(key);
    if (cached) return cached;
    const wait = this.#budget.take(source);
    if (wait > 0) throw new AttestationRateLimitedError(wait);
    const answer = this.#produce({ kind: "nonce", nonce: key as HexString }).catch((error: unknown) => {
      this.#nonceAnswers.delete(key);
      // GPU attestation saturated (slow NVIDIA round trips): a 429 like the quote budget's, so clients take the epoch
      // evidence instead of waiting.
      if (error instanceof AttestationRateLimitedError) throw error;
      throw new AttestationUnavailableError("the node could not produce evidence", { cause: error });
    });
    this.#nonceAnswers.set(key, answer);
    while (this.#nonceAnswers.size > this.#cacheSize) {
      const oldest = this.#nonceAnswers.keys().next().value;
      if (oldest === undefined) break;
      this.#nonceAnswers.delete(oldest);
    }
    return answer;
  }
}
