import type { Hash, SignedResponseFields } from "@atoma/core";
import type { Address } from "viem";
import type { StackState } from "../db/schema.js";

/** A stack as this node records it (from the chain), with its live accounting. */
export interface Stack {
  stackId: bigint;
  owner: Address;
  taskId: bigint;
  servingNodeId: bigint;
  unitsBought: bigint;
  unitsReserved: bigint;
  unitsUsed: bigint;
  /** Leaves committed so far; the next request gets this index. */
  leafCount: bigint;
  pricePerMillion: bigint;
  /** Unix seconds. */
  expiresAt: bigint;
  state: StackState;
}

/** What the chain says about a stack when it is bought. */
export type NewStack = Pick<
  Stack,
  "stackId" | "owner" | "taskId" | "servingNodeId" | "unitsBought" | "pricePerMillion" | "expiresAt"
>;

/** Units held for one request in flight. Commit or release it exactly once. */
export interface Reservation {
  id: string;
  stackId: bigint;
  units: bigint;
  /** The request's nonce: the index of the leaf it becomes. */
  nonce: bigint;
  /**
   * The stack's units used when the reservation was made: the leaf's running total starts there, as no other
   * leaf can be added to the stack while this reservation is held.
   */
  unitsUsedBefore: bigint;
}

export interface ReserveInput {
  stackId: bigint;
  /** Upper bound of the units the request can use (prompt tokens + max output tokens). */
  units: bigint;
  /** The owner-signed nonce: the stack's next leaf index (the owner's k-th request carries nonce k). */
  nonce: bigint;
  /** The signed request's deadline (unix seconds). Kept in the leaf's `request`; not needed here. */
  deadline?: bigint | undefined;
  /**
   * The signed request's hash: a request this node denied at `nonce` (`denied_leaves`) is refused here, before the
   * engine runs, not only at commit (a denied request would otherwise be answered, then never billed).
   */
  reqHash?: string | undefined;
}

/** What a finished request adds to its stack. */
export interface LeafInput {
  /** Units actually used (input + output tokens). */
  units: bigint;
  reqHash: Hash;
  respHash: Hash;
  seed: bigint;
  /** The owner-signed request, JSON: one entry of the stack's inputs transcript. */
  request: unknown;
  /**
   * The response body as delivered (JSON, without the atoma object), kept so a client that lost the answer can
   * resend the same signed request and get the same response instead of paying twice (`findLeafByNonce`).
   */
  response?: unknown;
  /**
   * `JSON.stringify` of `request` and `response`, where the caller has them already (`leafInput`): stored as they
   * are instead of serialised again. They must be exactly those texts.
   */
  recorded?: { request: string; response: string } | undefined;
}

/** A committed leaf: exactly the fields the node signs (EIP-712 `AtomaResponse`), and the leaf hash. */
export interface CommittedLeaf extends SignedResponseFields {
  leafHash: Hash;
}

/** A leaf as stored, with the request it answers. */
export interface StoredLeaf extends CommittedLeaf {
  request: unknown;
  response: unknown;
}
