import { type Address, type Hex, isAddressEqual, type LocalAccount, type TypedDataDomain } from "viem";
import { InvalidSignatureError } from "./errors.js";
import type { Hash } from "./hash.js";
import { withRecoveryByte27 } from "./recoveryByte.js";
import { recoverDigestSignature } from "./signatures.js";
import { STACK_HEADERS } from "./stackEnvelope.js";
import { typedDataDigest } from "./typedDigest.js";

/**
 * The stack owner's authorisation to read the leaf a node committed at one nonce (`GET /v1/stacks/{id}/leaves/{n}`),
 * in the domain of its requests. Its own type, never an `AtomaRequest`: a node cannot pass it off as a request
 * signed at that nonce. `deadline` (unix seconds, shortly ahead) and `salt` (random) make each read's signature
 * one of a kind: the node answers it once (a captured one replayed is refused). A read naming no request keeps this
 * type as it always was, so clients and nodes from before named reads still read each other's.
 */
export const leafReadTypes = {
  AtomaLeafRead: [
    { name: "stackId", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
    { name: "salt", type: "bytes32" },
  ],
} as const;

/**
 * A leaf read that names the request the owner signed at that nonce and asks about (`reqHash`): when no leaf stands
 * there, the node answers with its signed `AtomaLeafDenial` of that request at that nonce (`leafDenial.ts`), and
 * never commits it there. A type of its own, beside `AtomaLeafRead`: an unnamed read's digest is unchanged.
 */
export const namedLeafReadTypes = {
  AtomaLeafReadOf: [
    { name: "stackId", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint64" },
    { name: "salt", type: "bytes32" },
    { name: "reqHash", type: "bytes32" },
  ],
} as const;

export interface LeafReadFields {
  stackId: bigint;
  nonce: bigint;
  /** Unix seconds. */
  deadline: bigint;
  salt: Hash;
  /** The request asked about (its `requestHash`), or `NO_REQUEST_NAMED`. */
  reqHash: Hash;
}

/** A leaf read's `reqHash` when it names no request (the node then signs no denial). */
export const NO_REQUEST_NAMED = `0x${"00".repeat(32)}` as Hash;

/** The headers of a leaf read (some of `STACK_HEADERS`): its deadline and salt, and the owner's signature. */
export const LEAF_READ_HEADERS = Object.freeze({
  deadline: STACK_HEADERS.deadline,
  salt: STACK_HEADERS.salt,
  signature: STACK_HEADERS.signature,
  /** The request asked about (absent: none named). */
  requestHash: "x-atoma-request-hash",
});

/** The furthest ahead a leaf read's deadline may lie (seconds): a node remembers each read until then. */
export const LEAF_READ_MAX_AHEAD_SECONDS = 300;

export function leafReadDigest(domain: TypedDataDomain, fields: LeafReadFields): Hash {
  if (fields.reqHash === NO_REQUEST_NAMED) {
    const { reqHash: _, ...unnamed } = fields;
    return typedDataDigest(
      domain,
      leafReadTypes,
      "AtomaLeafRead",
      unnamed as unknown as Readonly<Record<string, unknown>>,
    );
  }
  return typedDataDigest(
    domain,
    namedLeafReadTypes,
    "AtomaLeafReadOf",
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
  if (fields.reqHash === NO_REQUEST_NAMED) {
    const { reqHash: _, ...unnamed } = fields;
    return withRecoveryByte27(
      await account.signTypedData({
        domain,
        types: leafReadTypes,
        primaryType: "AtomaLeafRead",
        message: unnamed,
      }),
    );
  }
  return withRecoveryByte27(
    await account.signTypedData({
      domain,
      types: namedLeafReadTypes,
      primaryType: "AtomaLeafReadOf",
      message: fields,
    }),
  );
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
