import {
  type AttestationComparison,
  attestationComparison,
  buyStack,
  drawAttesters,
  getAttesterSelection,
  type PostedRequest,
  postDisputeEvidence,
  type RevealSettlementResult,
  revealSettlement,
  submitSettlement,
} from "@atoma/chain";
import { settlementManagerAbi } from "@atoma/contracts";
import {
  atomaDomain,
  blobId,
  canonicalJson,
  encodeTranscript,
  type Hash,
  type InputsTranscript,
  leafHash,
  leafOf,
  requestHash,
  responseHash,
  type SignedResponseFields,
  type StackLeaf,
  StackTree,
  signRequest,
  signResponse,
} from "@atoma/core";
import type { ChatCompletion, InferenceEngine } from "@atoma/engine";
import { type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import { type AttestNetwork, eventually, type HarnessNode, MODEL, PRICE } from "./attestNetwork.js";

/**
 * How the serving node behaves. An honest one runs the task's model and reports what it produced; a cheater runs
 * another model (a tiny model of another seed), tampers with some outputs, or claims more units than it served.
 */
export interface ServingBehaviour {
  engine: InferenceEngine;
  /** Replaces the response hash of request `k` (a tampered output); undefined keeps it. */
  tamper?: ((k: number) => boolean) | undefined;
  /** Units claimed on-chain on top of those served (its leaves stay honest). @default 0 */
  overClaim?: bigint | undefined;
  /** Units added to every leaf (the running totals add up, and the settlement claims them). @default 0 */
  inflateUnits?: bigint | undefined;
  /** Appends a copy of signed request 1 (its nonce and signature) as one more leaf, billed again. */
  duplicate?: boolean | undefined;
  /** Keeps the transcript out of the blob store (attesters cannot fetch it). */
  withholdTranscript?: boolean | undefined;
  /** Pads the stack with request `k` signed by the server itself, not the owner (inflating units). */
  forge?: ((k: number) => boolean) | undefined;
  /**
   * Request `k` is a poison request the owner signs in collusion with the server: it names a model only the
   * server claims to serve, so no honest node can run it; the server claims an answer and its units anyway.
   */
  poison?: ((k: number) => boolean) | undefined;
  /**
   * What a poison request is: a body naming another model (the default), or one on the task's model that is no
   * chat, completion or embeddings request at all.
   */
  poisonAs?: "another-model" | "not-inference" | undefined;
  /** The server's front holds every request for the transcript until released (a stalling colluder). */
  stallTranscript?: boolean | undefined;
  /** The server's front answers every request for the transcript only after this many milliseconds. */
  delayTranscriptMs?: number | undefined;
  /** Fields added to request `k`'s chat body (tools, response_format, a larger max_tokens). */
  extraBody?: ((k: number) => Record<string, unknown>) | undefined;
  /**
   * The answer the server signs for request `k` in place of the one its engine produced (a faked tool call or JSON
   * answer, well-formed and with the honest usage); undefined keeps the honest one.
   */
  fake?: ((k: number, response: ChatCompletion) => ChatCompletion | undefined) | undefined;
}

export interface ServedStack {
  stackId: bigint;
  server: HarnessNode;
  escrow: bigint;
  reqHashes: Hash[];
  respHashes: Hash[];
  leaves: StackLeaf[];
  tree: StackTree;
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
    version: 2,
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
    leaves: [],
    tree: undefined as unknown as StackTree,
    unitsServed: 0n,
    unitsClaimed: 0n,
    responses: [],
    requests: [],
    transcriptId: "0x",
  };
  for (let k = 0; k < count; k++) {
    const poisoned = behaviour.poison?.(k) === true;
    const question = `question ${k} of stack ${stack.stackId}`;
    const chat: Record<string, unknown> = {
      model: poisoned ? "a-model-only-the-server-serves" : MODEL,
      messages: [{ role: "user", content: question }],
      max_tokens: 6,
      ...behaviour.extraBody?.(k),
    };
    const body: Record<string, unknown> =
      poisoned && behaviour.poisonAs === "not-inference"
        ? { model: MODEL, query: question, max_tokens: 6 }
        : chat;
    const reqHash = requestHash(body);
    const nonce = BigInt(k);
    const deadline = 2_000_000_000n;
    const maxUnits = 1_000_000n;
    const signer = behaviour.forge?.(k) ? server.signerAccount : net.user.account;
    const signature = await signRequest(signer, domain, {
      stackId: stack.stackId,
      reqHash,
      nonce,
      deadline,
      maxUnits,
    });
    // The colluding server claims an answer to a poison request (it runs it on the task's model).
    const { response: honest, generation } = await behaviour.engine.chat(
      poisoned ? { ...chat, model: MODEL } : body,
    );
    const response = behaviour.fake?.(k, honest) ?? honest;
    const respHash =
      poisoned || behaviour.tamper?.(k)
        ? keccak256(stringToBytes(`tampered answer ${k}`))
        : responseHash(response);
    const units = BigInt(response.usage.total_tokens) + (behaviour.inflateUnits ?? 0n);
    const entry = {
      body,
      nonce: nonce.toString(),
      deadline: deadline.toString(),
      max_units: maxUnits.toString(),
      signature,
    };
    served.requests.push({ body: stringToHex(canonicalJson(body)), nonce, deadline, maxUnits, signature });
    await addLeaf(served, transcript, entry, {
      stackId: stack.stackId,
      leafIndex: BigInt(k),
      nonce,
      reqHash,
      respHash,
      units,
      cumulativeUnits: served.unitsServed + units,
      seed: BigInt(generation.sampling.seed),
    });
  }
  if (behaviour.duplicate) {
    // The copy keeps the signed request's nonce and signature: a request the owner made once, billed twice.
    const original = served.responses[1]!.fields;
    const leafIndex = BigInt(served.leaves.length);
    served.requests.push(served.requests[1]!);
    await addLeaf(served, transcript, transcript.requests[1]!, {
      ...original,
      leafIndex,
      cumulativeUnits: served.unitsServed + original.units,
    });
  }
  served.tree = new StackTree(served.leaves.map(leafHash));
  const bytes = encodeTranscript(transcript);
  if (behaviour.stallTranscript) server.front.stall(blobId(bytes));
  if (behaviour.delayTranscriptMs !== undefined)
    server.front.delay(blobId(bytes), behaviour.delayTranscriptMs);
  served.transcriptId = behaviour.withholdTranscript
    ? blobId(bytes)
    : (await server.node.context.blobs.put(bytes)).id;
  served.unitsClaimed = served.unitsServed + (behaviour.overClaim ?? 0n);
  const settled = await submitSettlement(server.signer, {
    stackId: stack.stackId,
    root: served.tree.root,
    units: served.unitsClaimed,
    requestCount: BigInt(served.leaves.length),
    transcriptId: served.transcriptId,
  });
  // Private selection: the draw opens a window; the candidates select themselves (the test follows them).
  if (settled.outcome === "drawPending") {
    await openSelectionWindow(net, stack.stackId);
    return { ...served, attesters: [], indices: [] };
  }
  if (!settled.sampled) throw new Error("p = 1 must sample attesters");
  return { ...served, attesters: settled.attesters, indices: settled.requestIndices };
}

/**
 * Opens a settlement's private selection window when the draw could not yet (its seed is the hash of the block after
 * the settlement's): mines that block, then draws. A keeper that opened it meanwhile is as good.
 */
async function openSelectionWindow(net: AttestNetwork, stackId: bigint): Promise<void> {
  if ((await getAttesterSelection(net.user.ctx, stackId)).endsAt !== 0n) return;
  await net.advance(0);
  await drawAttesters(net.user.ctx, { stackId }).catch(async (error: unknown) => {
    if ((await getAttesterSelection(net.user.ctx, stackId)).endsAt === 0n) throw error;
  });
}

/** Adds one leaf: its transcript entry, its hashes, its running total and the node's signed response. */
async function addLeaf(
  served: ServedStack,
  transcript: InputsTranscript,
  entry: {
    body: Record<string, unknown>;
    nonce: string;
    deadline: string;
    max_units: string;
    signature: Hex;
  },
  fields: SignedResponseFields,
): Promise<void> {
  const domain = atomaDomain(Number(transcript.chainId), transcript.stacks);
  served.unitsServed = fields.cumulativeUnits;
  served.reqHashes.push(fields.reqHash);
  served.respHashes.push(fields.respHash);
  served.leaves.push(leafOf(fields));
  transcript.requests.push({
    ...entry,
    response_hash: fields.respHash,
    units: fields.units.toString(),
    cumulative_units: fields.cumulativeUnits.toString(),
  });
  served.responses.push({
    fields,
    signature: await signResponse(served.server.signerAccount, domain, fields),
  });
}

/**
 * The serving node reveals the sampled leaves and its last one (what it settled, honest or not); the attesters'
 * workers then open their commitments, and the last opening compares them (accepted or a dispute). When that opens
 * a dispute the server posts the disputed owner-signed requests on chain, as every server must, unless it
 * `withholds` them. An attester that never opens holds the comparison until the opening deadline: a test that
 * plays one uses `revealOnly` and `compared`.
 */
export async function reveal(
  served: ServedStack,
  indices: readonly bigint[],
  options: { withholdEvidence?: boolean } = {},
): Promise<RevealSettlementResult & AttestationComparison> {
  const revealed = await revealOnly(served, indices);
  const result = { ...revealed, ...(await compared(served, revealed.blockNumber)) };
  if (result.outcome === "disputed" && !options.withholdEvidence) {
    const at = indices.map(Number);
    await postDisputeEvidence(served.server.signer, {
      disputeId: result.disputeId,
      requests: at.map((k) => served.requests[k]!),
      reqHashes: at.map((k) => served.leaves[k]!.reqHash),
    });
  }
  return result;
}

/** The server reveals; nothing waits for the openings. */
export function revealOnly(served: ServedStack, indices: readonly bigint[]): Promise<RevealSettlementResult> {
  const at = indices.map(Number);
  const last = served.leaves.length - 1;
  return revealSettlement(served.server.signer, {
    stackId: served.stackId,
    sampled: at.map((k) => served.leaves[k]!),
    proofs: at.map((k) => served.tree.proof(k)),
    last: served.leaves[last]!,
    lastProof: served.tree.proof(last),
  });
}

/** The comparison of the openings (`AttestationsCompared`), once a transaction after `fromBlock` made it. */
export function compared(served: ServedStack, fromBlock: bigint): Promise<AttestationComparison> {
  const ctx = served.server.signer;
  return eventually(async () => {
    const [event] = await ctx.publicClient.getContractEvents({
      address: ctx.addresses.SettlementManager,
      abi: settlementManagerAbi,
      eventName: "AttestationsCompared",
      args: { stackId: served.stackId },
      fromBlock,
    });
    if (!event) return undefined;
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: event.transactionHash });
    return attestationComparison(receipt);
  }, `the attesters' openings on stack ${served.stackId}`);
}

/** The committee of a dispute, once a party (an attester's worker) has drawn it. */
export function drawnCommittee(net: AttestNetwork, disputeId: bigint): Promise<bigint[]> {
  return eventually(async () => {
    const committee = await net.deployment.contracts.disputeManager.read.committeeOf([disputeId]);
    return committee.length > 0 ? committee.map((m) => m.nodeId) : undefined;
  }, `the committee of dispute ${disputeId}`);
}
