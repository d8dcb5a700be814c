import {
  findPostedSampledRequests,
  findSettlementSubmission,
  getNode,
  getSettlement,
  getStack,
} from "@atoma/chain";
import {
  AtomaError,
  atomaDomain,
  decodeTranscript,
  findSettledLeafFraud,
  type Hash,
  leafHash,
  StackTree,
  transcriptLeaves,
  verifyTranscript,
} from "@atoma/core";
import { hexToString } from "viem";
import { fetchBlob } from "../blobs/fetchBlob.js";
import type { NodeSeat } from "../service/nodeSeat.js";
import { TranscriptFraudError, TranscriptUnusableError } from "./errors.js";
import type { CheckedTranscript, TranscriptCache } from "./transcriptCache.js";

/** The settlement a duty is about, as submitted on-chain. */
export interface SettlementFacts {
  servingNodeId: bigint;
  transcriptId: Hash;
}

/**
 * The sampled requests, in the order of the sampled indices: bodies to recompute (undefined for posted bytes that
 * are not JSON) and their hashes.
 */
export interface SampledRequests {
  bodies: unknown[];
  reqHashes: Hash[];
}

/**
 * Finds the stack's `SettlementSubmitted` event in the `lookbackBlocks` before `atBlock`: the serving node and the
 * inputs transcript's blob id (the contract keeps neither in storage).
 */
export async function settlementFacts(
  chain: NodeSeat,
  stackId: bigint,
  atBlock: bigint,
  lookbackBlocks: bigint,
): Promise<SettlementFacts | undefined> {
  const fromBlock = atBlock > lookbackBlocks ? atBlock - lookbackBlocks : 0n;
  const submitted = await findSettlementSubmission(chain, { stackId, fromBlock, toBlock: atBlock });
  if (!submitted) return undefined;
  return { servingNodeId: submitted.nodeId, transcriptId: submitted.transcriptId };
}

/**
 * The requests the server posted (one transaction each) after an attester declared the transcript unavailable,
 * in sampled order; undefined while any position is not visible yet.
 */
export async function postedRequests(
  chain: NodeSeat,
  stackId: bigint,
  fromBlock: bigint,
  sampleCount: number,
): Promise<SampledRequests | undefined> {
  const posted = await findPostedSampledRequests(chain, { stackId, fromBlock });
  const byPosition = new Map(posted.map((request) => [Number(request.position), request]));
  const bodies: unknown[] = [];
  const reqHashes: Hash[] = [];
  for (let position = 0; position < sampleCount; position++) {
    const posted = byPosition.get(position);
    if (!posted?.request || !posted.reqHash) return undefined;
    bodies.push(parseJson(hexToString(posted.request.body)));
    reqHashes.push(posted.reqHash);
  }
  return { bodies, reqHashes };
}

/** The JSON value of `text`, or undefined when it is not JSON (no engine can run it: an invalid request). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface FetchTranscriptOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Transcripts already checked: a hit skips the download and the checks. */
  cache?: TranscriptCache | undefined;
  /** Stops the download (the step's own deadline, or the worker stopping): an abort is never "unusable". */
  signal?: AbortSignal | undefined;
}

/**
 * Fetches the inputs transcript from the serving node, checks its hash and shape, that its leaves rebuild the
 * settled root, that they keep the leaf rules, and every owner signature, and returns the sampled requests.
 * Throws `TranscriptFraudError` (with the evidence) when the settled leaves break a rule, and
 * `TranscriptUnusableError` for anything else that makes it unusable (the worker then declares it unavailable
 * on-chain). A transcript checked once (and found no fraud) is kept in `options.cache`.
 */
export async function fetchSampledRequests(
  chain: NodeSeat,
  params: { stackId: bigint; facts: SettlementFacts; indices: readonly bigint[] },
  options: FetchTranscriptOptions,
): Promise<SampledRequests> {
  const checked =
    options.cache?.get(params.stackId, params.facts.transcriptId) ??
    (await fetchCheckedTranscript(chain, params, options));
  return {
    bodies: params.indices.map((k) => checked.bodies[Number(k)]),
    reqHashes: params.indices.map((k) => checked.reqHashes[Number(k)]!),
  };
}

async function fetchCheckedTranscript(
  chain: NodeSeat,
  params: { stackId: bigint; facts: SettlementFacts; indices: readonly bigint[] },
  options: FetchTranscriptOptions,
): Promise<CheckedTranscript> {
  const [node, stack, settlement] = await Promise.all([
    getNode(chain, params.facts.servingNodeId),
    getStack(chain, params.stackId),
    getSettlement(chain, params.stackId),
  ]);
  try {
    const bytes = await fetchBlob(node.url, params.facts.transcriptId, options);
    const transcript = decodeTranscript(bytes, { maxBytes: options.maxBytes });
    const leaves = transcriptLeaves(transcript);
    if (leaves.length !== settlement.requestCount)
      throw new TranscriptUnusableError(
        `transcript holds ${leaves.length} requests, the settlement claims ${settlement.requestCount}`,
      );
    const tree = new StackTree(leaves.map(leafHash));
    if (tree.root !== settlement.root.toLowerCase())
      throw new TranscriptUnusableError("the transcript's leaves do not rebuild the settled root");
    const broken = findSettledLeafFraud(leaves, settlement.units);
    if (broken)
      throw new TranscriptFraudError(`the settled leaf ${broken.at(-1)!.leafIndex} breaks the leaf rules`, {
        leaves: broken,
        proofs: broken.map((leaf) => tree.proof(Number(leaf.leafIndex))),
      });
    const { reqHashes } = await verifyTranscript(transcript, {
      owner: stack.owner,
      stackId: params.stackId,
      domain: atomaDomain(chain.chainId, chain.addresses.StackManager),
      root: settlement.root,
      units: settlement.units,
      requestCount: BigInt(settlement.requestCount),
      boundsCheckedAt: new Set(params.indices),
    });
    const checked = { bodies: transcript.requests.map((request) => request.body as unknown), reqHashes };
    options.cache?.set(params.stackId, params.facts.transcriptId, checked, bytes.byteLength);
    return checked;
  } catch (error) {
    options.signal?.throwIfAborted();
    if (error instanceof TranscriptUnusableError || error instanceof TranscriptFraudError) throw error;
    if (error instanceof AtomaError)
      throw new TranscriptUnusableError(`transcript unusable: ${error.shortMessage}`, { cause: error });
    throw error;
  }
}
