import type { Address } from "viem";
import type { Endpoint } from "../limits/requestBound.js";
import type { UpstreamAnswer } from "./upstream.js";

/** A level-3 stack leased for one confidential session, and the nonce and deadline reserved on it. */
export interface ConfidentialLease {
  nodeId: bigint;
  nodeSigner: Address;
  /** The level-3 task the stack was bought on: the client checks it on the chain (level, model, allow-list). */
  taskId: bigint;
  stackId: bigint;
  /** The nonce the gateway will sign the sealed request with: the stack's next leaf. */
  nonce: bigint;
  /** The price per million units of the stack: what budgets are settled at. */
  pricePerMillion: bigint;
}

/** What the node answered to `GET /v1/attestation[?nonce=]`: checked by the route before anything is passed on. */
export interface AttestationAnswer {
  status: number;
  body: unknown;
  /** The node's `retry-after` header, as sent (a 429 when its fresh-quote budget for the gateway is spent). */
  retryAfter?: string | undefined;
}

export interface SealedRequest {
  endpoint: Endpoint;
  /** The envelope `{atoma_confidential:{v,enc,ciphertext}}`, checked for shape only. */
  envelope: Record<string, unknown>;
  deadline: bigint;
  /** The units signed as the request's bound. */
  maxUnits: bigint;
  signal: AbortSignal;
  /** Each sealed chunk event of a streamed answer, unchanged, with its position in the stream. */
  onSealed?: ((event: Record<string, unknown>, position: number) => void) | undefined;
}

/**
 * The network side of confidential sessions: a stack on a confidential task held for the session (so no other
 * request takes its nonce), the node's evidence, and the sealed request sent on exactly that stack and nonce.
 */
export interface ConfidentialUpstream {
  /**
   * Leases a stack of the model's confidential tasks at the best node not in `ignore`. Throws
   * `ModelNotFoundError`, `NoNodeAvailableError`.
   */
  leaseConfidential(model: string, maxUnits: bigint, ignore: readonly bigint[]): Promise<ConfidentialLease>;
  /** Gives back a lease no request was signed on: its nonce stays the stack's next (no gap). */
  releaseConfidential(lease: ConfidentialLease): Promise<void>;
  /** The node's evidence for the client's nonce (`0x` and 64 hex digits), or without one its epoch evidence. */
  attestationOf(lease: ConfidentialLease, nonce: string | undefined): Promise<AttestationAnswer>;
  /**
   * Signs the envelope at the lease's nonce and `deadline`, sends it, verifies the receipt over the sealed answer
   * and gives the stack back. Throws `ConfidentialSessionFailedError` when the node failed before answering (the
   * client seals again for another node), `StackLeaseLapsedError` (`no_node_available`) when the gateway's own hold
   * of the stack lapsed before the signature (the node is not blamed), else what `Upstream.send` throws.
   */
  sendSealed(lease: ConfidentialLease, request: SealedRequest): Promise<UpstreamAnswer>;
}
