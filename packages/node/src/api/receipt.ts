import { type AtomaReceipt, type SignedResponseFields, signResponse, toReceipt } from "@atoma/core";
import type { StackApi } from "./apiContext.js";

/** The `atoma` object: the committed leaf's fields, signed by this node (EIP-712 `AtomaResponse`). */
export async function signReceipt(api: StackApi, leaf: SignedResponseFields): Promise<AtomaReceipt> {
  const fields: SignedResponseFields = {
    stackId: leaf.stackId,
    leafIndex: leaf.leafIndex,
    nonce: leaf.nonce,
    reqHash: leaf.reqHash,
    respHash: leaf.respHash,
    units: leaf.units,
    cumulativeUnits: leaf.cumulativeUnits,
    seed: leaf.seed,
  };
  return toReceipt(api.nodeId, fields, await signResponse(api.account, api.domain, fields));
}
