import { type Hash, requestHash, STACK_HEADERS, signRequest } from "@atoma/core";
import type { LocalAccount, TypedDataDomain } from "viem";

export interface StackRequest {
  stackId: bigint;
  /** The OpenAI request body, sent exactly as signed. */
  body: Record<string, unknown>;
  nonce: bigint;
  /** Unix seconds after which the node refuses the request. */
  deadline: bigint;
  /** The most units (prompt plus completion) the node may claim for the request's leaf. */
  maxUnits: bigint;
}

export interface SignedStackRequest {
  reqHash: Hash;
  /** The nonce signed: the leaf index the request must become. */
  nonce: bigint;
  /** The unit bound signed: a receipt above it is refused. */
  maxUnits: bigint;
  /** The `x-atoma-*` headers carrying the owner's signature. */
  headers: Record<string, string>;
  /** The body's JSON text. */
  json: string;
}

/** Signs a request as the stack owner (EIP-712 `AtomaRequest` over the body's canonical hash). */
export async function signStackRequest(
  account: LocalAccount,
  domain: TypedDataDomain,
  request: StackRequest,
): Promise<SignedStackRequest> {
  const reqHash = requestHash(request.body);
  const signature = await signRequest(account, domain, {
    stackId: request.stackId,
    reqHash,
    nonce: request.nonce,
    deadline: request.deadline,
    maxUnits: request.maxUnits,
  });
  return {
    reqHash,
    nonce: request.nonce,
    maxUnits: request.maxUnits,
    json: JSON.stringify(request.body),
    headers: {
      [STACK_HEADERS.stack]: request.stackId.toString(),
      [STACK_HEADERS.nonce]: request.nonce.toString(),
      [STACK_HEADERS.deadline]: request.deadline.toString(),
      [STACK_HEADERS.maxUnits]: request.maxUnits.toString(),
      [STACK_HEADERS.signature]: signature,
    },
  };
}
