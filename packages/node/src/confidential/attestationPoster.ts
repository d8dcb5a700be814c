import {
  attestationRegistryAbi,
  type ChainContext,
  ContractRevertError,
  getAttestation,
  postAttestation,
  servedEvidenceTypedData,
} from "@atoma/chain";
import type { Logger } from "@atoma/core";
import type { ConfidentialCompute, EpochEvidence } from "./confidentialCompute.js";
import { AttestationUnavailableError } from "./errors.js";
import { type RecordFields, recordFields } from "./evidenceRegisters.js";

export interface AttestationPosterOptions {
  /** The node's seat: posts go out from its key (the node's signer is one of its actors). */
  seat: ChainContext & { now(): Promise<bigint> };
  nodeId: bigint;
  logger: Logger;
  /** Seconds each record stays current. @default the registry's `maxValidity`, less a minute */
  validitySeconds?: bigint | undefined;
  /** Waits between failed attempts (ms), the last one repeated until a post goes through. */
  retryDelaysMs?: readonly number[] | undefined;
  /**
   * Blocks that must be built on the post's block before the node signs its `ServedEvidence` statement: a post
   * reorganised away turns a signed statement into a lie anyone can report (slash and ban). 0 suits an
   * instant-finality chain (anvil); on a real chain use at least its reorg depth (e.g. 64 on Ethereum, past the
   * sequencer's reorg window on an L2). @default 0
   */
  confirmations?: number | undefined;
  /** Milliseconds between head polls while waiting for `confirmations`. @default 1000 */
  confirmationPollMs?: number | undefined;
  /**
   * Milliseconds between checks that the post last vouched for is still on the chain (a reorg deeper than
   * `confirmations` may drop it): one gone has its statement withdrawn and is posted again. @default 12000
   */
  recheckMs?: number | undefined;
}

const RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 15_000, 30_000] as const;
const SLACK_SECONDS = 60n;

interface Posted {
  source: EpochEvidence;
  fields: RecordFields;
  expiresAt: bigint;
}

/**
 * Keeps the node's attestation record on-chain: each new epoch evidence (each epoch, each key rotation) is posted
 * with its evidence hash, key and measurement in the shared encodings, valid for the registry's `maxValidity`. A
 * failed post is logged and tried again (a newer evidence replaces the one waiting); nothing here throws into the
 * node. `current()` says whether the record the chain holds is this node's latest evidence and still valid: a node
 * without one takes no sealed requests for level-3 stacks.
 */
export class AttestationPoster {
  readonly #options: AttestationPosterOptions;
  readonly #logger: Logger;
  #wanted: EpochEvidence | undefined;
  #posted: Posted | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #compute: ConfidentialCompute | undefined;
  /** The post last vouched for, re-checked on the chain until a newer one is vouched for or the poster stops. */
  #vouched: { target: EpochEvidence; fields: RecordFields } | undefined;
  #recheck: Promise<void> | undefined;
  #wakeRecheck: (() => void) | undefined;

  constructor(options: AttestationPosterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ module: "attestation-poster" });
  }

  /** Hooks the poster to `compute`, posting its current epoch evidence, if any, at once. */
  follow(compute: ConfidentialCompute): this {
    this.#compute = compute;
    compute.onEpochEvidence((evidence) => this.post(evidence));
    if (compute.epochEvidence) this.post(compute.epochEvidence);
    return this;
  }

  /** Posts `evidence` (in the background; a newer call replaces one still waiting). */
  post(evidence: EpochEvidence): void {
    if (this.#stopped) return;
    this.#wanted = evidence;
    this.#wake?.();
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  /** Resolves once nothing is waiting to be posted (or the poster stopped). */
  async settled(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** The record last posted, if any. */
  get posted(): { fields: RecordFields; expiresAt: bigint; epoch: bigint } | undefined {
    const p = this.#posted;
    return p && { fields: p.fields, expiresAt: p.expiresAt, epoch: p.source.epoch };
  }

  /** Whether the chain holds a record of `evidence` (default: the latest posted) current at the chain's time. */
  async current(evidence?: EpochEvidence): Promise<boolean> {
    const posted = this.#posted;
    if (!posted || (evidence !== undefined && posted.source !== evidence)) return false;
    return (await this.#options.seat.now()) < posted.expiresAt;
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.#wakeRecheck?.();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped && this.#wanted && this.#wanted !== this.#posted?.source) {
      const target = this.#wanted;
      try {
        await this.#postOnce(target);
        failures = 0;
      } catch (error) {
        // Evidence the chain refuses for good (a past epoch, or already used): attest afresh instead of retrying it.
        if (await this.#reattest(error)) continue;
        const delays = this.#options.retryDelaysMs ?? RETRY_DELAYS_MS;
        const delay = delays[Math.min(failures, delays.length - 1)] ?? 30_000;
        failures += 1;
        this.#logger.warn(
          { err: error, epoch: String(target.epoch), attempt: failures, retryInMs: delay },
          "could not post the attestation record; trying again",
        );
        await this.#sleep(delay);
      }
    }
  }

  async #postOnce(target: EpochEvidence): Promise<void> {
    const { seat, nodeId } = this.#options;
    const fields = recordFields(target.evidence);
    const validity = this.#options.validitySeconds ?? (await this.#maxValidity()) - SLACK_SECONDS;
    const expiresAt = (await seat.now()) + validity;
    let postedIn: bigint;
    try {
      ({ blockNumber: postedIn } = await postAttestation(seat, {
        nodeId,
        ...fields,
        expiresAt,
        epoch: target.epoch,
      }));
    } catch (error) {
      // Posted already (a receipt lost on the way back): take the chain's record when it is this evidence.
      if (!(error instanceof ContractRevertError) || error.errorName !== "EvidenceReused") throw error;
      const record = await getAttestation(seat, nodeId);
      if (record?.evidenceHash.toLowerCase() !== fields.evidenceHash.toLowerCase()) throw error;
      // Its block is unknown here: the head is a safe lower bound for the wait.
      await this.#settle(target, fields, record.expiresAt, await seat.publicClient.getBlockNumber());
      return;
    }
    await this.#settle(target, fields, expiresAt, postedIn);
    this.#logger.info(
      { epoch: String(target.epoch), kind: fields.kind, expiresAt: String(expiresAt) },
      "posted the attestation record",
    );
  }

  /**
   * The chain holds `target`'s record from the block `postedIn`: the node takes sealed requests under it at once,
   * but vouches for it only once `confirmations` blocks are built on it and the record is still there at that depth.
   * Meanwhile the route serves the evidence vouched for before (`ConfidentialCompute.servedEpoch`). A post no longer
   * there (reorganised away) restores the previous record here and throws: the loop posts it again.
   */
  async #settle(
    target: EpochEvidence,
    fields: RecordFields,
    expiresAt: bigint,
    postedIn: bigint,
  ): Promise<void> {
    const previous = this.#posted;
    this.#posted = { source: target, fields, expiresAt };
    const { seat, nodeId } = this.#options;
    const depth = BigInt(this.#options.confirmations ?? 0);
    for (;;) {
      const safe = (await seat.publicClient.getBlockNumber()) - depth;
      if (safe >= postedIn) {
        const [posted, epoch] = await seat.publicClient.readContract({
          address: seat.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "postings",
          args: [nodeId, fields.evidenceHash],
          blockNumber: safe,
        });
        if (posted && epoch === target.epoch) break;
        if (this.#posted?.source === target) this.#posted = previous;
        throw new AttestationUnavailableError(
          `the attestation post of block ${postedIn} is not on the chain at block ${safe} (reorganised away)`,
        );
      }
      if (this.#stopped) return;
      await this.#sleep(this.#options.confirmationPollMs ?? 1_000);
    }
    await this.#vouch(target, fields);
  }

  /**
   * Signs "this evidence is my record" (`ServedEvidence`) for the evidence just posted, and hands it to the compute
   * to serve beside the evidence: only evidence final on-chain is ever vouched for, with the epoch it was posted in,
   * so the statement cannot convict an honest node, and a node serving evidence other than its record is convicted by it (`reportUnposted`).
   */
  async #vouch(target: EpochEvidence, fields: RecordFields): Promise<void> {
    const { seat, nodeId } = this.#options;
    const account = seat.walletClient.account;
    if (!account || !this.#compute) return;
    const statement = { nodeId, epoch: target.epoch, evidenceHash: fields.evidenceHash };
    const typed = servedEvidenceTypedData(
      await seat.publicClient.getChainId(),
      seat.addresses.AttestationRegistry,
      statement,
    );
    const signature = await seat.walletClient.signTypedData({ account, ...typed });
    this.#compute.vouch(target, { ...statement, signature });
    this.#vouched = { target, fields };
    this.#recheck ??= this.#recheckVouched().finally(() => {
      this.#recheck = undefined;
    });
  }

  /**
   * Re-checks, every `recheckMs`, that the post last vouched for is still on the chain (review challenges MEDIUM-2:
   * a reorg deeper than `confirmations` dropped it, its statement stayed served, and anyone holding it could report
   * it unposted). One gone has its statement withdrawn and is posted again (a past epoch's: the chain's epoch is
   * attested instead), so the node has the rest of the epoch to put it back.
   */
  async #recheckVouched(): Promise<void> {
    const { seat, nodeId } = this.#options;
    while (!this.#stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.recheckMs ?? 12_000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wakeRecheck = done;
      });
      const vouched = this.#vouched;
      if (this.#stopped || !vouched) return;
      try {
        const [posted, epoch] = await seat.publicClient.readContract({
          address: seat.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "postings",
          args: [nodeId, vouched.fields.evidenceHash],
        });
        if ((posted && epoch === vouched.target.epoch) || this.#vouched !== vouched) continue;
      } catch (error) {
        this.#logger.warn({ err: error }, "could not re-check the attestation post vouched for");
        continue;
      }
      this.#vouched = undefined;
      this.#compute?.withdraw(vouched.target);
      if (this.#posted?.source === vouched.target) this.#posted = undefined;
      this.#logger.error(
        { epoch: String(vouched.target.epoch) },
        "the attestation post vouched for is no longer on the chain (reorganised away): statement withdrawn, posting again",
      );
      if (this.#wanted === vouched.target || this.#wanted === undefined) this.post(vouched.target);
      return;
    }
  }

  /**
   * Evidence the chain will never take: of a past epoch (`StaleEpoch`: attest for the chain's epoch), or already
   * used by this node for another record (`EvidenceReused` for a record not this evidence's): attest afresh, since
   * posting the same evidence again can never go through.
   */
  async #reattest(error: unknown): Promise<boolean> {
    if (!(error instanceof ContractRevertError) || !this.#compute) return false;
    let current: unknown;
    if (error.errorName === "StaleEpoch") current = (error.args as readonly unknown[])[1];
    else if (error.errorName === "EvidenceReused") current = this.#wanted?.epoch;
    else return false;
    if (typeof current !== "bigint") return false;
    try {
      await this.#compute.attestEpoch(current);
    } catch (attestError) {
      this.#logger.warn({ err: attestError }, "could not attest for the chain's epoch");
      return false;
    }
    return this.#wanted?.epoch === current;
  }

  async #maxValidity(): Promise<bigint> {
    const { seat } = this.#options;
    return seat.publicClient.readContract({
      address: seat.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "maxValidity",
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
