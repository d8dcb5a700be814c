import { assertRequestSigner, type Hash } from "@atoma/core";
import { StackNotServedError, UnknownStackError } from "../errors.js";
import type { StackApi } from "./apiContext.js";
import { type RequestEnvelope, signedFields } from "./envelope.js";

/**
 * The stack a request draws on, once its owner's signature over the request checks out. Throws
 * `UnknownStackError` (404), `StackNotServedError` (403: the chain says another node serves it) or
 * `InvalidSignatureError` (401). Expiry, closing and funds are `reserve`'s checks, in its transaction.
 */
export async function authorize(api: StackApi, envelope: RequestEnvelope, reqHash: Hash): Promise<void> {
  const stack = await api.owners.get(envelope.stackId);
  if (!stack) {
    const onChain = await api.lookupChainStack(envelope.stackId);
    if (onChain && onChain.nodeId !== api.nodeId) throw new StackNotServedError(envelope.stackId);
    throw new UnknownStackError(envelope.stackId);
  }
  if (stack.servingNodeId !== api.nodeId) throw new StackNotServedError(envelope.stackId);
  await assertRequestSigner(api.domain, signedFields(envelope, reqHash), envelope.signature, stack.owner);
}
