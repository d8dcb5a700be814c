import { type Address, type Hex, isAddressEqual, type LocalAccount, type TypedDataDomain } from "viem";
import {
  requestTypes,
  responseTypes,
  type SignedRequestFields,
  type SignedResponseFields,
} from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import type { Hash } from "./hash.js";
import { recoverDigestSigner } from "./recoverDigestSigner.js";
import { withRecoveryByte27 } from "./recoveryByte.js";
import { typedDataDigest } from "./typedDigest.js";

const messageOf = (fields: SignedRequestFields | SignedResponseFields) =>
  fields as unknown as Readonly<Record<string, unknown>>;

export function requestDigest(domain: TypedDataDomain, fields: SignedRequestFields): Hash {
  return typedDataDigest(domain, requestTypes, "AtomaRequest", messageOf(fields));
}

export function responseDigest(domain: TypedDataDomain, fields: SignedResponseFields): Hash {
  return typedDataDigest(domain, responseTypes, "AtomaResponse", messageOf(fields));
}

/**
 * Accounts whose `sign({hash})` is the very signature `signTypedData` makes over that digest (viem's private-key
 * and HD accounts): the digest is computed once here instead of by viem's slower typed-data path.
 */
const signsDigests = (account: LocalAccount) => account.source === "privateKey" || account.source === "hd";

export async function signRequest(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: SignedRequestFields,
): Promise<Hex> {
  if (account.sign && signsDigests(account)) return account.sign({ hash: requestDigest(domain, fields) });
  // A wallet may answer v 0/1: the contracts (and `recover` here) take only 27/28.
  return withRecoveryByte27(
    await account.signTypedData({
      domain,
      types: requestTypes,
      primaryType: "AtomaRequest",
      message: fields,
    }),
  );
}

export async function signResponse(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: SignedResponseFields,
): Promise<Hex> {
  if (account.sign && signsDigests(account)) return account.sign({ hash: responseDigest(domain, fields) });
  return withRecoveryByte27(
    await account.signTypedData({
      domain,
      types: responseTypes,
      primaryType: "AtomaResponse",
      message: fields,
    }),
  );
}

/** Half secp256k1's group order: a signature whose s is above it is the malleated twin of a low-s one. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const COMPACT = /^0x[0-9a-fA-F]{130}$/;

async function recover(signature: Hex, recovering: () => Promise<Address>): Promise<Address> {
  let signer: Address;
  try {
    signer = await recovering();
  } catch (cause) {
    throw new InvalidSignatureError("signature is malformed", { cause });
  }
  // Recovery alone takes (r, N - s) with the other recovery bit as the same signer; the contracts (OpenZeppelin's
  // ECDSA) refuse it, so a receipt or request carrying it would be no evidence on-chain: refused here as well.
  if (COMPACT.test(signature) && BigInt(`0x${signature.slice(66, 130)}`) > HALF_N)
    throw new InvalidSignatureError("signature is malleable: its s is in the upper half");
  // viem also reads v as 0/1 (and other lengths), but OpenZeppelin's `tryRecover` answers address 0 for anything
  // but 65 bytes with v 27 or 28: such a signature would be no evidence on-chain (a denial or receipt that can never
  // convict its signer), so it is no signature here either.
  if (!COMPACT.test(signature) || !/^(1b|1c)$/i.test(signature.slice(130)))
    throw new InvalidSignatureError("signature is not 65 bytes with v 27 or 28");
  return signer;
}

/** The signer of a 32-byte EIP-712 `digest`, with the same refusals (malformed, high s) as the request's. */
export function recoverDigestSignature(digest: Hash, signature: Hex): Promise<Address> {
  return recover(signature, () => recoverDigestSigner(digest, signature));
}

export function recoverRequestSigner(
  domain: TypedDataDomain,
  fields: SignedRequestFields,
  signature: Hex,
): Promise<Address> {
  return recover(signature, () => recoverDigestSigner(requestDigest(domain, fields), signature));
}

export function recoverResponseSigner(
  domain: TypedDataDomain,
  fields: SignedResponseFields,
  signature: Hex,
): Promise<Address> {
  return recover(signature, () => recoverDigestSigner(responseDigest(domain, fields), signature));
}

/** Throws `InvalidSignatureError` unless `signature` over the request was made by `expected`. */
export async function assertRequestSigner(
  domain: TypedDataDomain,
  fields: SignedRequestFields,
  signature: Hex,
  expected: Address,
): Promise<void> {
  const signer = await recoverRequestSigner(domain, fields, signature);
  if (!isAddressEqual(signer, expected))
    throw new InvalidSignatureError("request is not signed by the stack owner");
}

/** Throws `InvalidSignatureError` unless `signature` over the response was made by `expected`. */
export async function assertResponseSigner(
  domain: TypedDataDomain,
  fields: SignedResponseFields,
  signature: Hex,
  expected: Address,
): Promise<void> {
  const signer = await recoverResponseSigner(domain, fields, signature);
  if (!isAddressEqual(signer, expected))
    throw new InvalidSignatureError("response is not signed by the node");
}
