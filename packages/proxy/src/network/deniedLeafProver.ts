import { ContractRevertError, type FraudEvidence, type ProveReceiptFraudResult } from "@atoma/chain";
import {
  type Hash,
  type LeafProof,
  type Logger,
  leafHash,
  type StackLeaf,
  silentLogger,
  verifyStackProof,
} from "@atoma/core";
import { fetchLeafProof } from "@atoma/sdk";
import type { FreedDenial, FreedLeaves } from "./freedLeaves.js";

/** The settlement a stack's denials are checked against: its root and leaf count (zero root: not settled yet). */
export interface SettledRoot {
  root: Hash;
  requestCount: bigint;
  /** The settlement is over (paid out, failed, timed out): with a zero root nothing will ever be settled to check. */
  over?: boolean | undefined;
}

/** How long one proof is waited for. */
const PROOF_TIMEOUT_MS = 10_000;

/** What a check of a stack's denials came to: the node proven, every denial resolved, or some still to check. */
export type DenialCheck = "proven" | "resolved" | "pending";

/**
 * Checks a settled stack's nonces freed on its node's signed denial (`FreedLeaves.denialsOf`) against the leaves its
 * node settled: the leaf at a denied nonce answering the very request denied is the node billing what it swore it
 * never would, proven on-chain (`ReceiptFraud.proveDeniedLeaf`: the node slashed, the owner refunded). The leaf and its
 * proof are the node's public `GET /v1/stacks/{id}/proof/{leaf}`, checked here first (its index the denied nonce, its
 * path to the settled root); another request's leaf there (the nonce reused, as the gateway does) or a nonce past the
 * settled leaves clears the denial. A proof the node does not serve, or one that does not check, leaves the denial
 * pending: asked again at the next pass, for as long as the stack is watched.
 */
export class DeniedLeafProver {
  readonly #freed: FreedLeaves;
  readonly #submit: (evidence: FraudEvidence) => Promise<ProveReceiptFraudResult>;
  readonly #nodeUrl: (nodeId: bigint) => Promise<string>;
  readonly #fetch: typeof fetch;
  readonly #logger: Logger;
  readonly #onProven: ((nodeId: bigint) => void) | undefined;

  constructor(parts: {
    freed: FreedLeaves;
    submit: (evidence: FraudEvidence) => Promise<ProveReceiptFraudResult>;
    /** The node's registered URL (its proof route). */
    nodeUrl: (nodeId: bigint) => Promise<string>;
    fetch?: typeof fetch | undefined;
    logger?: Logger | undefined;
    onProven?: ((nodeId: bigint) => void) | undefined;
  }) {
    this.#freed = parts.freed;
    this.#submit = parts.submit;
    this.#nodeUrl = parts.nodeUrl;
    this.#fetch = parts.fetch ?? globalThis.fetch;
    this.#logger = (parts.logger ?? silentLogger).child({ module: "denied-leaf-prover" });
    this.#onProven = parts.onProven;
  }

  /** The stacks with denials still to check (kept watched past the usual watch, `OverclaimWatcher`). */
  stacksWithDenials(): Promise<bigint[]> {
    return this.#freed.stacksWithDenials();
  }

  /** Drops a stack's denials unchecked (the stack is no longer the gateway's: nothing to check them against). */
  async forgetStack(stackId: bigint): Promise<void> {
    for (const denial of await this.#freed.denialsOf(stackId)) await this.#freed.forgetDenial(denial);
  }

  /**
   * Checks the stack's denials against its settlement (zero root: not settled yet, all pending; settled no more, all
   * dropped). `signal` aborting (the watcher's time for the pass spent) stops it: the denials left stay pending.
   */
  async check(
    stack: { stackId: bigint; nodeId: bigint },
    settled: SettledRoot,
    signal?: AbortSignal,
  ): Promise<DenialCheck> {
    const denials = await this.#freed.denialsOf(stack.stackId);
    if (denials.length === 0) return "resolved";
    if (BigInt(settled.root) === 0n) {
      if (!settled.over) return "pending";
      for (const denial of denials) await this.#freed.forgetDenial(denial);
      return "resolved";
    }
    // The chain read given up when the pass stops (the gateway stopping): a stalled RPC must not hold the stop.
    const url = await untilAborted(this.#nodeUrl(stack.nodeId), signal);
    if (url === undefined) return "pending";
    let pending = false;
    for (const denial of denials) {
      if (denial.nonce >= settled.requestCount) {
        await this.#freed.forgetDenial(denial);
        continue;
      }
      if (signal?.aborted) return "pending";
      const proof = await fetchLeafProof(
        this.#fetch,
        url,
        stack.stackId,
        denial.nonce,
        PROOF_TIMEOUT_MS,
        signal,
      );
      const leaf = typeof proof === "string" ? undefined : checkedLeaf(proof, denial, settled);
      if (typeof proof === "string" || leaf === undefined) {
        pending = true;
        this.#logger.warn(
          {
            stackId: String(stack.stackId),
            nonce: String(denial.nonce),
            reason:
              typeof proof === "string" ? proof : "the proof is not of that nonce under the settled root",
          },
          "the settled leaf at a denied nonce could not be read: asked again later",
        );
        continue;
      }
      if (leaf.reqHash.toLowerCase() !== denial.reqHash.toLowerCase()) {
        await this.#freed.forgetDenial(denial);
        continue;
      }
      // No transaction is started once the pass stops: the proof is sent at a later pass (or run).
      if (signal?.aborted) return "pending";
      if (await this.#prove(stack, denial, leaf, proof as LeafProof)) return "proven";
    }
    return pending ? "pending" : "resolved";
  }

  /**
   * Sends the proof; true when the stack is proven (by this proof or another's: every denial on it forgotten). A
   * contract refusal of this one proof forgets only this denial; anything else (the RPC) is thrown for the next pass.
   */
  async #prove(
    stack: { stackId: bigint; nodeId: bigint },
    denial: FreedDenial,
    leaf: StackLeaf,
    proof: LeafProof,
  ): Promise<boolean> {
    const evidence: FraudEvidence = {
      kind: "deniedLeaf",
      stackId: stack.stackId,
      denial: {
        fields: { stackId: denial.stackId, nonce: denial.nonce, reqHash: denial.reqHash },
        signature: denial.signature,
      },
      leaf,
      proof: proof.proof,
    };
    try {
      const proven = await this.#submit(evidence);
      this.#logger.error(
        {
          stackId: String(stack.stackId),
          nodeId: String(stack.nodeId),
          nonce: String(denial.nonce),
          tx: proven.hash,
        },
        "a node settled the leaf of a request it signed it never would commit there: proven on-chain, the node is slashed",
      );
      this.#onProven?.(stack.nodeId);
    } catch (error) {
      if (!(error instanceof ContractRevertError)) throw error;
      if (error.errorName !== "AlreadyProven") {
        this.#logger.warn(
          { stackId: String(stack.stackId), nonce: String(denial.nonce), reason: error.errorName },
          "a denied leaf's proof was refused: that denial is dropped",
        );
        await this.#freed.forgetDenial(denial);
        return false;
      }
    }
    for (const done of await this.#freed.denialsOf(stack.stackId)) await this.#freed.forgetDenial(done);
    return true;
  }
}

/** `work`'s value, or undefined as soon as `signal` aborts (the work left to end, or fail, unheard). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const abort = () => resolve(undefined);
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        if (signal.aborted) resolve(undefined);
        else reject(error);
      },
    );
  });
}

/** The proof's leaf when it is the leaf at the denied nonce under the settled root (checked here, not trusted). */
function checkedLeaf(proof: LeafProof, denial: FreedDenial, settled: SettledRoot): StackLeaf | undefined {
  try {
    if (BigInt(proof.leaf_index) !== denial.nonce) return undefined;
    const leaf: StackLeaf = {
      leafIndex: denial.nonce,
      nonce: BigInt(proof.leaf.nonce),
      reqHash: proof.leaf.request_hash,
      respHash: proof.leaf.response_hash,
      units: BigInt(proof.leaf.units),
      cumulativeUnits: BigInt(proof.leaf.cumulative_units),
    };
    const index = Number(denial.nonce);
    const count = Number(settled.requestCount);
    return verifyStackProof(settled.root, leafHash(leaf), index, count, proof.proof) ? leaf : undefined;
  } catch {
    return undefined;
  }
}
