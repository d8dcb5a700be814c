import {
  type Address,
  type Hex,
  hashTypedData,
  isAddressEqual,
  type LocalAccount,
  recoverTypedDataAddress,
  type TypedDataDomain,
} from "viem";
import {
  requestTypes,
  responseTypes,
  type SignedRequestFields,
  type SignedResponseFields,
} from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import type { Hash } from "./hash.js";

export function requestDigest(domain: TypedDataDomain, fields: SignedRequestFields): Hash {
  return hashTypedData({ domain, types: requestTypes, primaryType: "AtomaRequest", message: fields });
}

export function responseDigest(domain: TypedDataDomain, fields: SignedResponseFields): Hash {
  return hashTypedData({ domain, types: responseTypes, primaryType: "AtomaResponse", message: fields });
}

export function signRequest(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: SignedRequestFields,
): Promise<Hex> {
  return account.signTypedData({ domain, types: requestTypes, primaryType: "AtomaRequest", message: fields });
}

export function signResponse(
  account: LocalAccount,
  domain: TypedDataDomain,
  fields: SignedResponseFields,
): Promise<Hex> {
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
  return recover(() =>
    recoverTypedDataAddress({
      domain,
      types: requestTypes,
      primaryType: "AtomaRequest",
      message: fields,
      signature,
    }),
  );
}

export function recoverResponseSigner(
  domain: TypedDataDomain,
  fields: SignedResponseFields,
  signature: Hex,
): Promise<Address> {
  return recover(() =>
    recoverTypedDataAddress({
      domain,
      types: responseTypes,
      primaryType: "AtomaResponse",
      message: fields,
      signature,
    }),
  );
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
