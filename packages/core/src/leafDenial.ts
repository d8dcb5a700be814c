import { type Address, type Hex, isAddressEqual, isHex, type LocalAccount, type TypedDataDomain } from "viem";
import { InvalidSignatureError } from "./errors.js";
import type { Hash } from "./hash.js";
import { withRecoveryByte27 } from "./recoveryByte.js";
import { recoverDigestSignature } from "./signatures.js";
import { typedDataDigest } from "./typedDigest.js";

/**
 * The serving node's signed word, in the domain of its receipts, that no leaf answers request `reqHash` at `nonce` of
 * the stack and none ever will: its answer to the owner's leaf read of a request that did not commit. The owner then
 * gives the nonce to another request. A leaf under the node's settled root at index `nonce` with this request hash is
 * the node billing what it swore it never would: `ReceiptFraud.proveDeniedLeaf` slashes it.
 */
export const leafDenialTypes = {
  AtomaLeafDenial: [
    { name: "stackId", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "reqHash", type: "bytes32" },
  ],
} as const;

export interface LeafDenialFields {
  stackId: bigint;
  nonce: bigint;
  reqHash: Hash;
}

/** A node's leaf denial as it travels (the `denial` of a 404 `leaf_not_found`): decimal strings, and its signature. */
export interface LeafDenialWire {
  stack_id: string;
  nonce: string;
  request_hash: Hash;
  signature: Hex;
}

export interface SignedLeafDenial {
  fields: LeafDenialFields;
  signature: Hex;
}

export function leafDenialDigest(domain: TypedDataDomain, fields: LeafDenialFields): Hash {
  return typedDataDigest(
    domain,
    leafDenialTypes,
    "AtomaLeafDenial",
    fields as unknown as Readonly<Record<string, unknown>>,
  );
}

export async function signLeafDenial(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: LeafDenialFields,
): Promise<Hex> {
  if (account.sign && (account.source === "privateKey" || account.source === "hd"))
    return account.sign({ hash: leafDenialDigest(domain, fields) });
  return withRecoveryByte27(
    await account.signTypedData({
      domain,
      types: leafDenialTypes,
      primaryType: "AtomaLeafDenial",
      message: fields,
    }),
  );
}

export function leafDenialToWire(denial: SignedLeafDenial): LeafDenialWire {
  return {
    stack_id: denial.fields.stackId.toString(),
    nonce: denial.fields.nonce.toString(),
    request_hash: denial.fields.reqHash,
    signature: denial.signature,
  };
}

const DECIMAL = /^(0|[1-9]\d{0,77})$/;

/**
 * A denial as a node sent it, checked: well formed, for exactly (`stackId`, `nonce`, `reqHash`), and signed by
 * `nodeSigner`. Throws `InvalidSignatureError` otherwise: a denial that fails is no word of the node's.
 */
export async function verifyLeafDenial(
  domain: TypedDataDomain,
  wire: unknown,
  expected: LeafDenialFields,
  nodeSigner: Address,
): Promise<SignedLeafDenial> {
  const w = (typeof wire === "object" && wire !== null ? wire : {}) as Record<string, unknown>;
  const { stack_id, nonce, request_hash, signature } = w;
  if (
    typeof stack_id !== "string" ||
    typeof nonce !== "string" ||
    !DECIMAL.test(stack_id) ||
    !DECIMAL.test(nonce) ||
    typeof request_hash !== "string" ||
    !isHex(request_hash) ||
    request_hash.length !== 66 ||
    typeof signature !== "string" ||
    !/^0x[0-9a-fA-F]{130}$/.test(signature)
  )
    throw new InvalidSignatureError("the leaf denial is missing or malformed");
  const fields: LeafDenialFields = {
    stackId: BigInt(stack_id),
    nonce: BigInt(nonce),
    reqHash: request_hash.toLowerCase() as Hash,
  };
  if (
    fields.stackId !== expected.stackId ||
    fields.nonce !== expected.nonce ||
    fields.reqHash !== expected.reqHash.toLowerCase()
  )
    throw new InvalidSignatureError("the leaf denial is for another stack, nonce or request");
  let signer: Address;
  try {
    signer = await recoverDigestSignature(leafDenialDigest(domain, fields), signature as Hex);
  } catch (cause) {
    throw new InvalidSignatureError("the leaf denial's signature does not recover", { cause });
  }
  if (!isAddressEqual(signer, nodeSigner))
    throw new InvalidSignatureError("the leaf denial is not signed by the stack's node");
  return { fields, signature: signature as Hex };
}
