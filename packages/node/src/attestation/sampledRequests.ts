import { AtomaError, atomaDomain, decodeTranscript, type Hash, verifyTranscript } from "@atoma/core";
import { hexToString } from "viem";
import { fetchBlob } from "../blobs/fetchBlob.js";
import type { AttestationChain } from "./attestationChain.js";
import { TranscriptUnusableError } from "./errors.js";

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
 * Fetches the inputs transcript from the serving node, checks its hash, its shape, every owner signature and its
 * request count against the settlement, and returns the sampled requests. Throws `TranscriptUnusableError` for
 * anything that makes it unusable (the worker then declares it unavailable on-chain).
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
    const reqHashes = await verifyTranscript(transcript, {
      owner: stack.owner,
      stackId: params.stackId,
      domain: atomaDomain(chain.chainId, chain.ctx.addresses.StackManager),
    });
    if (reqHashes.length !== settlement.requestCount)
      throw new TranscriptUnusableError(
        `transcript holds ${reqHashes.length} requests, the settlement claims ${settlement.requestCount}`,
      );
    return {
      bodies: params.indices.map((k) => transcript.requests[Number(k)]!.body),
      reqHashes: params.indices.map((k) => reqHashes[Number(k)]!),
    };
  } catch (error) {
    if (error instanceof TranscriptUnusableError) throw error;
    if (error instanceof AtomaError)
      throw new TranscriptUnusableError(`transcript unusable: ${error.shortMessage}`, { cause: error });
    throw error;
  }
}
