import { type Address, type Hex, isAddressEqual, type LocalAccount, type TypedDataDomain } from "viem";
import { InvalidSignatureError } from "./errors.js";
import type { Hash } from "./hash.js";
import { recoverDigestSignature } from "./signatures.js";
import { STACK_HEADERS } from "./stackEnvelope.js";
import { typedDataDigest } from "./typedDigest.js";

/**
 * The stack owner's authorisation to read the leaf a node committed at one nonce (`GET /v1/stacks/{id}/leaves/{n}`),
 * in the domain of its requests. Its own type, never an `AtomaRequest`: a node cannot pass it off as a request
 * signed at that nonce. `deadline` (unix seconds, shortly ahead) and `salt` (random) make each read's signature
 * one of a kind: the node answers it once (a captured one replayed is refused).
 */
export const leafReadTypes = {
  AtomaLeafRead: [
    { name: "stackId", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
    { name: "salt", type: "bytes32" },
  ],
} as const;

export interface LeafReadFields {
  stackId: bigint;
  nonce: bigint;
  /** Unix seconds. */
  deadline: bigint;
  salt: Hash;
}

/** The headers of a leaf read (some of `STACK_HEADERS`): its deadline and salt, and the owner's signature. */
export const LEAF_READ_HEADERS = Object.freeze({
  deadline: STACK_HEADERS.deadline,
  salt: STACK_HEADERS.salt,
  signature: STACK_HEADERS.signature,
});

/** The furthest ahead a leaf read's deadline may lie (seconds): a node remembers each read until then. */
export const LEAF_READ_MAX_AHEAD_SECONDS = 300;

export function leafReadDigest(domain: TypedDataDomain, fields: LeafReadFields): Hash {
  return typedDataDigest(
    domain,
    leafReadTypes,
    "AtomaLeafRead",
    fields as unknown as Readonly<Record<string, unknown>>,
  );
}

export async function signLeafRead(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: LeafReadFields,
): Promise<Hex> {
  if (account.sign && (account.source === "privateKey" || account.source === "hd"))
    return account.sign({ hash: leafReadDigest(domain, fields) });
  return account.signTypedData({
    domain,
    types: leafReadTypes,
    primaryType: "AtomaLeafRead",
    message: fields,
  });
}

/** Throws `InvalidSignatureError` unless `signature` over the leaf read was made by `expected` (the stack's owner). */
export async function assertLeafReadSigner(
  domain: TypedDataDomain,
  fields: LeafReadFields,
  signature: Hex,
  expected: Address,
): Promise<void> {
  const signer = await recoverDigestSignature(leafReadDigest(domain, fields), signature);
  if (!isAddressEqual(signer, expected))
    throw new InvalidSignatureError("the leaf read is not signed by the stack owner");
}
