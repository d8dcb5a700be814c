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
  return account.signTypedData({ domain, types: requestTypes, primaryType: "AtomaRequest", message: fields });
}

export async function signResponse(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: SignedResponseFields,
): Promise<Hex> {
  if (account.sign && signsDigests(account)) return account.sign({ hash: responseDigest(domain, fields) });
  return account.signTypedData({
    domain,
    types: responseTypes,
    primaryType: "AtomaResponse",
    message: fields,
  });
}

async function recover(recovering: () => Promise<Address>): Promise<Address> {
  try {
    return await recovering();
  } catch (cause) {
    throw new InvalidSignatureError("signature is malformed", { cause });
  }
}

export function recoverRequestSigner(
  domain: TypedDataDomain,
  fields: SignedRequestFields,
  signature: Hex,
): Promise<Address> {
  return recover(() => recoverDigestSigner(requestDigest(domain, fields), signature));
}

export function recoverResponseSigner(
  domain: TypedDataDomain,
  fields: SignedResponseFields,
  signature: Hex,
): Promise<Address> {
  return recover(() => recoverDigestSigner(responseDigest(domain, fields), signature));
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
