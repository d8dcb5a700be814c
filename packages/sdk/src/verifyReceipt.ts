import {
  type AtomaReceipt,
  assertResponseSigner,
  type Hash,
  parseReceipt,
  responseHash,
  type SignedResponseFields,
} from "@atoma/core";
import type { Address, TypedDataDomain } from "viem";
import { ResponseVerificationError } from "./errors.js";

export interface ReceiptExpectations {
  domain: TypedDataDomain;
  /** The node's signing address (the NodeRegistry's `signerOf(nodeId)`). */
  nodeSigner: Address;
  stackId: bigint;
  /** The hash of the request that was sent. */
  reqHash: Hash;
  /** The node id the receipt must name, when known. */
  nodeId?: bigint | undefined;
}

/**
 * Checks an `atoma` object against the response it came with: it is for this stack and this request, its
 * response hash is the hash of `response` (the body without the atoma object), and the node signed it.
 * Returns the signed fields; throws `ResponseVerificationError` otherwise.
 */
export async function verifyReceipt(
  response: unknown,
  atoma: unknown,
  expected: ReceiptExpectations,
): Promise<{ receipt: AtomaReceipt; fields: SignedResponseFields }> {
  let parsed: ReturnType<typeof parseReceipt>;
  try {
    parsed = parseReceipt(atoma);
  } catch (cause) {
    throw new ResponseVerificationError("the response carries no valid atoma object", { cause });
  }
  const { fields, ...receipt } = parsed;
  if (fields.stackId !== expected.stackId)
    throw new ResponseVerificationError(
      `the receipt is for stack ${fields.stackId}, not ${expected.stackId}`,
    );
  if (expected.nodeId !== undefined && BigInt(receipt.node_id) !== expected.nodeId)
    throw new ResponseVerificationError(`the receipt names node ${receipt.node_id}, not ${expected.nodeId}`);
  if (fields.reqHash.toLowerCase() !== expected.reqHash.toLowerCase())
    throw new ResponseVerificationError("the receipt is for another request");
  let actual: Hash;
  try {
    actual = responseHash(response);
  } catch (cause) {
    throw new ResponseVerificationError("the response body is not a complete OpenAI response", { cause });
  }
  if (actual.toLowerCase() !== fields.respHash.toLowerCase())
    throw new ResponseVerificationError("the response differs from what the node signed");
  try {
    await assertResponseSigner(expected.domain, fields, receipt.signature, expected.nodeSigner);
  } catch (cause) {
    throw new ResponseVerificationError("the receipt is not signed by the node", { cause });
  }
  return { receipt, fields };
}
