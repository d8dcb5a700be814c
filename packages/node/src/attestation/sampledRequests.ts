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
import type { AttestationChain } from "./attestationChain.js";
import { TranscriptFraudError, TranscriptUnusableError } from "./errors.js";

/** The settlement a duty is about, as submitted on-chain. */
export interface SettlementFacts {
  servingNodeId: bigint;
  transcriptId: Hash;
}

/** The sampled requests, in the order of the sampled indices: bodies to recompute and their hashes. */
export interface SampledRequests {
  bodies: Record<string, unknown>[];
  reqHashes: Hash[];
}

/**
 * Finds the stack's `SettlementSubmitted` event in the `lookbackBlocks` before `atBlock`: the serving node and the
 * inputs transcript's blob id (the contract keeps neither in storage).
 */
export async function settlementFacts(
  chain: AttestationChain,
  stackId: bigint,
  atBlock: bigint,
  lookbackBlocks: bigint,
): Promise<SettlementFacts | undefined> {
  const fromBlock = atBlock > lookbackBlocks ? atBlock - lookbackBlocks : 0n;
  const events = await chain.contracts.settlementManager.getEvents.SettlementSubmitted(
    { stackId },
    { fromBlock, toBlock: atBlock },
  );
  const last = events.at(-1);
  if (!last) return undefined;
  return { servingNodeId: last.args.nodeId!, transcriptId: last.args.transcriptId! };
}

/** The requests the server posted as calldata after an attester declared the transcript unavailable. */
export async function postedRequests(
  chain: AttestationChain,
  stackId: bigint,
  fromBlock: bigint,
): Promise<SampledRequests | undefined> {
  const events = await chain.contracts.settlementManager.getEvents.SampledRequestsPosted(
    { stackId },
    { fromBlock },
  );
  const last = events.at(-1);
  if (!last) return undefined;
  const bodies = last.args.requests!.map((request, index) => {
    try {
      return JSON.parse(hexToString(request.body)) as Record<string, unknown>;
    } catch (cause) {
      throw new TranscriptUnusableError(`posted request ${index} is not JSON`, { cause });
    }
  });
  return { bodies, reqHashes: [...last.args.reqHashes!] };
}

export interface FetchTranscriptOptions {
  maxBytes: number;
  timeoutMs: number;
}

/**
 * Fetches the inputs transcript from the serving node, checks its hash and shape, that its leaves rebuild the
 * settled root, that they keep the leaf rules, and every owner signature, and returns the sampled requests.
 * Throws `TranscriptFraudError` (with the evidence) when the settled leaves break a rule, and
 * `TranscriptUnusableError` for anything else that makes it unusable (the worker then declares it unavailable).
 */
export async function fetchSampledRequests(
  chain: AttestationChain,
  params: { stackId: bigint; facts: SettlementFacts; indices: readonly bigint[] },
  options: FetchTranscriptOptions,
): Promise<SampledRequests> {
  const { nodeRegistry, stackManager, settlementManager } = chain.contracts;
  const [node, stack, settlement] = await Promise.all([
    nodeRegistry.read.getNode([params.facts.servingNodeId]),
    stackManager.read.getStack([params.stackId]),
    settlementManager.read.getSettlement([params.stackId]),
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
      domain: atomaDomain(chain.chainId, chain.ctx.addresses.StackManager),
      root: settlement.root,
      units: settlement.units,
      requestCount: BigInt(settlement.requestCount),
    });
    return {
      bodies: params.indices.map((k) => transcript.requests[Number(k)]!.body),
      reqHashes: params.indices.map((k) => reqHashes[Number(k)]!),
    };
  } catch (error) {
    if (error instanceof TranscriptUnusableError || error instanceof TranscriptFraudError) throw error;
    if (error instanceof AtomaError)
      throw new TranscriptUnusableError(`transcript unusable: ${error.shortMessage}`, { cause: error });
    throw error;
  }
}
