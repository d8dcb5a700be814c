import { buyStack, type PostedRequest, revealSettlement, submitSettlement } from "@atoma/chain";
import {
  atomaDomain,
  blobId,
  canonicalJson,
  encodeTranscript,
  type Hash,
  type InputsTranscript,
  LeafTree,
  leafHash,
  requestHash,
  responseHash,
  type SignedResponseFields,
  signRequest,
  signResponse,
} from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import { type AttestNetwork, type HarnessNode, MODEL, PRICE } from "./attestNetwork.js";

/**
 * How the serving node behaves. An honest one runs the task's model and reports what it produced; a cheater runs
 * another model (a tiny model of another seed), tampers with some outputs, or claims more units than it served.
 */
export interface ServingBehaviour {
  engine: InferenceEngine;
  /** Replaces the response hash of request `k` (a tampered output); undefined keeps it. */
  tamper?: ((k: number) => boolean) | undefined;
  /** Units claimed on-chain on top of those served. @default 0 */
  overClaim?: bigint | undefined;
  /** Keeps the transcript out of the blob store (attesters cannot fetch it). */
  withholdTranscript?: boolean | undefined;
  /** Pads the stack with request `k` signed by the server itself, not the owner (inflating units). */
  forge?: ((k: number) => boolean) | undefined;
  /**
   * Request `k` is a poison request the owner signs in collusion with the server: it names a model only the
   * server claims to serve, so no honest node can run it; the server claims an answer and its units anyway.
   */
  poison?: ((k: number) => boolean) | undefined;
  /** The server's front holds every request for the transcript until released (a stalling colluder). */
  stallTranscript?: boolean | undefined;
}

export interface ServedStack {
  stackId: bigint;
  server: HarnessNode;
  escrow: bigint;
  reqHashes: Hash[];
  respHashes: Hash[];
  tree: LeafTree;
  unitsServed: bigint;
  unitsClaimed: bigint;
  responses: { fields: SignedResponseFields; signature: Hex }[];
  /** The owner-signed requests as the contract takes them when they must be posted. */
  requests: PostedRequest[];
  transcriptId: Hash;
}

/**
 * A user buys a stack; its serving node answers `count` owner-signed chat requests with `behaviour`, signs each
 * response, stores the inputs transcript in its blob store (served at its registered URL), and settles.
 */
export async function serveAndSettle(
  net: AttestNetwork,
  count: number,
  behaviour: ServingBehaviour,
): Promise<ServedStack & { attesters: bigint[]; indices: bigint[] }> {
  const { addresses } = net.deployment;
  const stack = await buyStack(net.user.ctx, {
    taskId: net.taskId,
    units: 1_000_000n,
    maxPricePerMillion: PRICE,
    duration: 86_400n,
  });
  const server = net.byId(stack.nodeId);
  const domain = atomaDomain(net.anvil.chainId, addresses.StackManager);
  const transcript: InputsTranscript = {
    version: 1,
    chainId: net.anvil.chainId,
    stacks: addresses.StackManager,
    stackId: stack.stackId.toString(),
    requests: [],
  };
  const served: ServedStack = {
    stackId: stack.stackId,
    server,
    escrow: stack.escrow,
    reqHashes: [],
    respHashes: [],
    tree: undefined as unknown as LeafTree,
    unitsServed: 0n,
    unitsClaimed: 0n,
    responses: [],
    requests: [],
    transcriptId: "0x",
  };
  for (let k = 0; k < count; k++) {
    const poisoned = behaviour.poison?.(k) === true;
    const body = {
      model: poisoned ? "a-model-only-the-server-serves" : MODEL,
      messages: [{ role: "user", content: `question ${k} of stack ${stack.stackId}` }],
      max_tokens: 6,
    };
    const reqHash = requestHash(body);
    const nonce = BigInt(k);
    const deadline = 2_000_000_000n;
    const signer = behaviour.forge?.(k) ? server.signerAccount : net.user.account;
    const signature = await signRequest(signer, domain, {
      stackId: stack.stackId,
      reqHash,
      nonce,
      deadline,
    });
    transcript.requests.push({ body, nonce: nonce.toString(), deadline: deadline.toString(), signature });
    served.requests.push({ body: stringToHex(canonicalJson(body)), nonce, deadline, signature });
    const { response, generation } = await behaviour.engine.chat(poisoned ? { ...body, model: MODEL } : body);
    const respHash =
      behaviour.tamper?.(k) || poisoned
        ? keccak256(stringToBytes(`tampered answer ${k}`))
        : responseHash(response);
    const units = BigInt(response.usage.total_tokens);
    served.unitsServed += units;
    served.reqHashes.push(reqHash);
    served.respHashes.push(respHash);
    const fields: SignedResponseFields = {
      stackId: stack.stackId,
      leafIndex: BigInt(k),
      reqHash,
      respHash,
      units,
      cumulativeUnits: served.unitsServed,
      seed: BigInt(generation.sampling.seed),
    };
    served.responses.push({ fields, signature: await signResponse(server.signerAccount, domain, fields) });
  }
  served.tree = new LeafTree(served.reqHashes.map((r, k) => leafHash(r, served.respHashes[k]!)));
  const bytes = encodeTranscript(transcript);
  if (behaviour.stallTranscript) server.front.stall(blobId(bytes));
  served.transcriptId = behaviour.withholdTranscript
    ? blobId(bytes)
    : (await server.node.context.blobs.put(bytes)).id;
  served.unitsClaimed = served.unitsServed + (behaviour.overClaim ?? 0n);
  const settled = await submitSettlement(server.signer, {
    stackId: stack.stackId,
    root: served.tree.root,
    units: served.unitsClaimed,
    requestCount: BigInt(count),
    transcriptId: served.transcriptId,
  });
  if (!settled.sampled) throw new Error("p = 1 must sample attesters");
  return { ...served, attesters: settled.attesters, indices: settled.requestIndices };
}

/** The serving node reveals the sampled leaves (what it settled, honest or not). */
export function reveal(served: ServedStack, indices: readonly bigint[]) {
  const at = indices.map(Number);
  return revealSettlement(served.server.signer, {
    stackId: served.stackId,
    reqHashes: at.map((k) => served.reqHashes[k]!),
    respHashes: at.map((k) => served.respHashes[k]!),
    proofs: at.map((k) => served.tree.proof(k)),
  });
}
