import type { Address, Hex, TypedDataDomain } from "viem";
import type { Hash } from "./hash.js";

/** EIP-712 domain of every signature tied to stacks: the stacks contract on one chain. */
export function atomaDomain(chainId: number | bigint, stacksContract: Address): TypedDataDomain {
  return { name: "Atoma", version: "1", chainId: BigInt(chainId), verifyingContract: stacksContract };
}

/**
 * The stack owner's authorisation of one request. `nonce` is the request's position in the stack: the owner's
 * k-th request carries nonce k and becomes leaf k (the node refuses any other nonce). `deadline` (unix seconds)
 * bounds how long a captured request could be replayed. `maxUnits` bounds the units (prompt plus completion) the
 * node may claim for this request's leaf: a leaf proven with this signature whose units exceed it is fraud.
 */
export const requestTypes = {
  AtomaRequest: [
    { name: "stackId", type: "uint256" },
    { name: "reqHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
    { name: "maxUnits", type: "uint64" },
  ],
} as const;

/**
 * The node's signature on a response. `nonce` is the owner's nonce of the request it answers, which must equal
 * `leafIndex` (the owner's k-th request carries nonce k). `units` is what this request consumed;
 * `cumulativeUnits` is the stack's total after it. Any two signed responses that break these rules prove fraud.
 */
export const responseTypes = {
  AtomaResponse: [
    { name: "stackId", type: "uint256" },
    { name: "leafIndex", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "reqHash", type: "bytes32" },
    { name: "respHash", type: "bytes32" },
    { name: "units", type: "uint64" },
    { name: "cumulativeUnits", type: "uint64" },
    { name: "seed", type: "uint64" },
  ],
} as const;

export interface SignedRequestFields {
  stackId: bigint;
  reqHash: Hash;
  nonce: bigint;
  deadline: bigint;
  /** The most units the node may claim for this request's leaf. */
  maxUnits: bigint;
}

export interface SignedResponseFields {
  stackId: bigint;
  leafIndex: bigint;
  /** The nonce of the request answered; equals `leafIndex`. */
  nonce: bigint;
  reqHash: Hash;
  respHash: Hash;
  units: bigint;
  cumulativeUnits: bigint;
  seed: bigint;
}

export interface Signed<T> {
  fields: T;
  signature: Hex;
}
