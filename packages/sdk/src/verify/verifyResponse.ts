import { getNode, getSettlement, NodeStatus, readStack, settlementManagerAbi } from "@atoma/chain/portable";
import {
  type AtomaReceipt,
  atomaDomain,
  type Hash,
  type LeafProof,
  parseReceipt,
  recoverResponseSigner,
  responseHash,
  type SignedResponseFields,
} from "@atoma/core";
import { type Address, isAddressEqual } from "viem";
import { fetchLeafProof } from "./fetchLeafProof.js";
import { checkedProof, inclusionCheck } from "./inclusionCheck.js";
import { requestHashCheck } from "./requestHashCheck.js";
import { settlementCheck, settlementStateOf } from "./settlementState.js";
import { readStackTask, type StackTask, taskChecks } from "./stackTask.js";
import { unsignedFieldOf } from "./unsignedFields.js";
import { type Check, type CheckedProof, type Verdict, type VerifyAsked, verdictOf } from "./verdict.js";
import { type VerifyArguments, type VerifyOptions, verifyArguments } from "./verifyArguments.js";

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const message = (error: unknown) => (error instanceof Error ? error.message.split("\n")[0] : String(error));

/**
 * Checks a response exactly as an OpenAI client received it (a chat, completion or embeddings body, or a
 * stream's assembled result, with its `atoma` object) against the chain: the node's signature, that the signer is
 * the registered signer of the node serving that stack, the stack (and, when given, its id and owner; its
 * task serving the model asked for, at the security level given at least), the request and response hashes, and once the stack settled, the leaf's inclusion under the root on-chain (the proof
 * fetched from the node's registered URL) and the settlement's state. Never throws for what it finds: each check
 * is in the verdict, a failure with its code. Throws `VerifyArgumentError` for unusable arguments, before any read.
 */
export async function verifyResponse(response: unknown, options: VerifyOptions): Promise<Verdict> {
  const args = verifyArguments(response, options);
  let parsed: AtomaReceipt & { fields: SignedResponseFields };
  try {
    parsed = parseReceipt(args.response.atoma);
  } catch (error) {
    const receipt: Check = {
      name: "receipt",
      status: "fail",
      code: "receipt_malformed",
      reason: `the response carries no valid atoma object: ${message(error)}`,
    };
    return verdictOf([receipt], undefined, undefined);
  }
  const { fields, ...receipt } = parsed;
  const checks: Check[] = [{ name: "receipt", status: "pass", reason: "the atoma object is well formed" }];
  checks.push(responseHashCheck(args, fields.respHash), requestHashCheck(args, fields.reqHash));
  const onChain = await readOnChain(args, fields.stackId);
  const signer = await recoverResponseSigner(
    atomaDomain(args.chain.publicClient.chain.id, args.chain.addresses.StackManager),
    fields,
    receipt.signature,
  ).catch(() => undefined);
  checks.push(
    signer === undefined
      ? { name: "signature", status: "fail", code: "signature_invalid", reason: "the signature is malformed" }
      : { name: "signature", status: "pass", reason: `the receipt is signed by ${signer}` },
  );
  if (!onChain) {
    checks.push({
      name: "stack",
      status: "fail",
      code: "stack_unknown",
      reason: `stack ${fields.stackId} does not exist on this chain`,
    });
    return verdictOf(checks, undefined, receipt, undefined, undefined, askedOf(args));
  }
  checks.push(
    signerCheck(signer, onChain.node.signer, onChain.stack.nodeId),
    stackCheck(args, receipt, onChain),
    ...ownerCheck(args, receipt, onChain),
    ...taskChecks(args, onChain.task),
  );
  let proof: CheckedProof | undefined;
  const state = settlementStateOf(onChain.settlement.phase, onChain.node.status, onChain.fraudProven);
  if (onChain.settlement.phase === 0) {
    checks.push({ name: "inclusion", status: "pending", reason: "the stack is not settled yet" });
  } else if (state === "failed" || (state === "node_slashed" && onChain.settlement.requestCount === 0)) {
    // A settlement that failed (or a stack refunded for the node's fraud) pays nothing: no leaf stands to prove.
    checks.push({
      name: "inclusion",
      status: "not_checked",
      reason: `the settlement ended unpaid (${state})`,
    });
  } else if (fields.leafIndex >= BigInt(onChain.settlement.requestCount)) {
    checks.push({
      name: "inclusion",
      status: "fail",
      code: "leaf_not_settled",
      reason: `the node settled ${onChain.settlement.requestCount} leaves, leaving out leaf ${fields.leafIndex}`,
    });
  } else {
    const sent: LeafProof | string = await fetchLeafProof(
      args.fetch,
      onChain.node.url,
      fields.stackId,
      fields.leafIndex,
      args.proofTimeoutMs,
    );
    const settled = { root: onChain.settlement.root, requestCount: BigInt(onChain.settlement.requestCount) };
    const inclusion: Check =
      typeof sent === "string"
        ? { name: "inclusion", status: "fail", code: "proof_unavailable", reason: sent }
        : inclusionCheck(fields, sent, settled);
    checks.push(inclusion);
    if (typeof sent !== "string" && inclusion.status === "pass")
      proof = checkedProof(fields, sent, settled, {
        chainId: args.chain.publicClient.chain.id,
        settlementManager: args.chain.addresses.SettlementManager,
      });
  }
  checks.push(settlementCheck(state));
  return verdictOf(checks, state, receipt, onChain.node.status === NodeStatus.Slashed, proof, askedOf(args));
}

function askedOf(args: VerifyArguments): VerifyAsked | undefined {
  const asked: VerifyAsked = {
    ...(args.stackId !== undefined && { stackId: args.stackId.toString() }),
    ...(args.owner !== undefined && { owner: args.owner }),
    ...(args.securityLevel !== undefined && { securityLevel: args.securityLevel }),
  };
  return Object.keys(asked).length === 0 ? undefined : asked;
}

function responseHashCheck(args: VerifyArguments, signed: Hash): Check {
  const { atoma: _receipt, atoma_request: _request, ...body } = args.response;
  let actual: Hash;
  let unsigned: string | undefined;
  try {
    actual = responseHash(body);
    unsigned = unsignedFieldOf(body);
  } catch (error) {
    return {
      name: "response_hash",
      status: "fail",
      code: "response_hash_mismatch",
      reason: `the body is not a complete OpenAI response: ${message(error)}`,
    };
  }
  if (!same(actual, signed))
    return {
      name: "response_hash",
      status: "fail",
      code: "response_hash_mismatch",
      reason: "the body differs from what the node signed (edited after signing?)",
    };
  return unsigned === undefined
    ? { name: "response_hash", status: "pass", reason: "the body is what the node signed" }
    : {
        name: "response_hash",
        status: "fail",
        code: "unsigned_fields",
        reason: `the body carries what the node never signed, at ${unsigned} (added after signing?)`,
      };
}

interface OnChain {
  stack: NonNullable<Awaited<ReturnType<typeof readStack>>>;
  node: Awaited<ReturnType<typeof getNode>>;
  settlement: Awaited<ReturnType<typeof getSettlement>>;
  task: StackTask;
  /** Receipt fraud proven on this stack: the phase may still read Finalized. */
  fraudProven: boolean;
}

async function readOnChain(args: VerifyArguments, stackId: bigint): Promise<OnChain | undefined> {
  const { publicClient, addresses } = args.chain;
  const stack = await readStack(publicClient, addresses.StackManager, stackId);
  if (!stack) return undefined;
  const [node, settlement, task, fraudProven] = await Promise.all([
    getNode({ publicClient, addresses }, stack.nodeId),
    getSettlement({ publicClient, addresses }, stackId),
    readStackTask(args, stackId),
    publicClient.readContract({
      address: addresses.SettlementManager,
      abi: settlementManagerAbi,
      functionName: "fraudProven",
      args: [stackId],
    }),
  ]);
  return { stack, node, settlement, task, fraudProven };
}

function signerCheck(signer: Address | undefined, registered: Address, nodeId: bigint): Check {
  if (signer !== undefined && isAddressEqual(signer, registered))
    return { name: "signer", status: "pass", reason: `the signer is node ${nodeId}'s registered signer` };
  return {
    name: "signer",
    status: "fail",
    code: "signer_not_registered",
    reason: `the signer is not ${registered}, the registered signer of node ${nodeId} serving the stack`,
  };
}

function stackCheck(args: VerifyArguments, receipt: AtomaReceipt, onChain: OnChain): Check {
  const stackId = BigInt(receipt.stack_id);
  const fail = (code: "stack_mismatch" | "node_mismatch", reason: string): Check => ({
    name: "stack",
    status: "fail",
    code,
    reason,
  });
  if (args.stackId !== undefined && args.stackId !== stackId)
    return fail("stack_mismatch", `the receipt is for stack ${stackId}, not stack ${args.stackId}`);
  if (BigInt(receipt.node_id) !== onChain.stack.nodeId)
    return fail(
      "node_mismatch",
      `the receipt names node ${receipt.node_id}, but node ${onChain.stack.nodeId} serves stack ${stackId}`,
    );
  return {
    name: "stack",
    status: "pass",
    reason: `stack ${stackId} of ${onChain.stack.owner} on task ${onChain.task.taskId} (security level ${onChain.task.securityLevel}), served by node ${onChain.stack.nodeId}`,
  };
}

/** The stack's owner is the one asked for; no check when none was asked. */
function ownerCheck(args: VerifyArguments, receipt: AtomaReceipt, onChain: OnChain): Check[] {
  if (args.owner === undefined) return [];
  return isAddressEqual(args.owner, onChain.stack.owner)
    ? [{ name: "owner", status: "pass", reason: `stack ${receipt.stack_id} belongs to ${args.owner}` }]
    : [
        {
          name: "owner",
          status: "fail",
          code: "owner_mismatch",
          reason: `stack ${receipt.stack_id} belongs to ${onChain.stack.owner}, not ${args.owner}`,
        },
      ];
}
