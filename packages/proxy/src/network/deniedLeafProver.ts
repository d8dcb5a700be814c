import { ContractRevertError, type FraudEvidence, type ProveReceiptFraudResult } from "@atoma/chain";
import type { Hash, LeafProof, Logger } from "@atoma/core";
import { silentLogger } from "@atoma/core";
import { fetchLeafProof } from "@atoma/sdk";
import type { FreedDenial, FreedLeaves } from "./freedLeaves.js";

/** The settlement a stack's denials are checked against: its root and leaf count (zero root: not settled yet). */
export interface SettledRoot {
  root: Hash;
  requestCount: bigint;
}

/** Refusals after which a denial is done with: the stack was proven already, or the leaf is another request's. */
const DONE_REVERTS = new Set(["AlreadyProven", "LeafForOtherRequest", "LeafNotAtDeniedNonce"]);

/**
 * Checks a settled stack's nonces freed on its node's signed denial (`FreedLeaves.denialsOf`) against the leaves its
 * node settled: the leaf at a denied nonce answering the very request denied is the node billing what it swore it
 * never would, proven on-chain (`ReceiptFraud.proveDeniedLeaf`: the node slashed, the owner refunded). The leaf and its
 * proof are the node's public `GET /v1/stacks/{id}/proof/{leaf}`; another request's leaf there (the nonce reused, as
 * the gateway does) or a nonce past the settled leaves clears the denial. A proof the node does not serve is asked
 * again at the next pass.
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

  /** Checks the stack's denials against its settlement; true when a proof went out (the node is slashed). */
  async check(stack: { stackId: bigint; nodeId: bigint }, settled: SettledRoot): Promise<boolean> {
    if (BigInt(settled.root) === 0n) return false;
    const denials = await this.#freed.denialsOf(stack.stackId);
    if (denials.length === 0) return false;
    const url = await this.#nodeUrl(stack.nodeId);
    for (const denial of denials) {
      if (denial.nonce >= settled.requestCount) {
        await this.#freed.forgetDenial(denial);
        continue;
      }
      const proof = await fetchLeafProof(this.#fetch, url, stack.stackId, denial.nonce, 10_000);
      if (typeof proof === "string") {
        this.#logger.warn(
          { stackId: String(stack.stackId), nonce: String(denial.nonce), reason: proof },
          "the settled leaf at a denied nonce could not be read: asked again later",
        );
        continue;
      }
      if (proof.root.toLowerCase() !== settled.root.toLowerCase()) continue;
      if (proof.leaf.request_hash.toLowerCase() !== denial.reqHash.toLowerCase()) {
        await this.#freed.forgetDenial(denial);
        continue;
      }
      if (await this.#prove(stack, denial, proof)) return true;
    }
    return false;
  }

  async #prove(
    stack: { stackId: bigint; nodeId: bigint },
    denial: FreedDenial,
    proof: LeafProof,
  ): Promise<boolean> {
    const evidence: FraudEvidence = {
      kind: "deniedLeaf",
      stackId: stack.stackId,
      denial: {
        fields: { stackId: denial.stackId, nonce: denial.nonce, reqHash: denial.reqHash },
        signature: denial.signature,
      },
      leaf: {
        leafIndex: BigInt(proof.leaf_index),
        nonce: BigInt(proof.leaf.nonce),
        reqHash: proof.leaf.request_hash,
        respHash: proof.leaf.response_hash,
        units: BigInt(proof.leaf.units),
        cumulativeUnits: BigInt(proof.leaf.cumulative_units),
      },
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
      if (!(error instanceof ContractRevertError && DONE_REVERTS.has(error.errorName))) throw error;
    }
    for (const done of await this.#freed.denialsOf(stack.stackId)) await this.#freed.forgetDenial(done);
    return true;
  }
}
