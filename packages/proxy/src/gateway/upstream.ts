import type { AtomaReceipt } from "@atoma/core";
import type { Endpoint } from "../limits/requestBound.js";
import type { ProviderPreferences } from "../routing/providerPreferences.js";

type Json = Record<string, unknown>;

/** A model as `GET /v1/models` lists it. */
export interface ModelListing {
  id: string;
  /** Unix seconds. */
  created: number;
  nodeIds: bigint[];
  /** Per million units, in wei of TOMA; undefined when no node serves it now. */
  price: { cheapest: bigint; median: bigint } | undefined;
  /** Every task of the model is confidential (level 3): it takes only sealed requests, through a session. */
  confidentialOnly?: boolean | undefined;
}

export interface UpstreamRequest {
  endpoint: Endpoint;
  model: string;
  /** The body to send as it is (already bounded). */
  body: Json;
  stream: boolean;
  /** The most units the request can use: a stack must have this many left. */
  maxUnits: bigint;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /**
   * Each streamed chunk as it arrives, with the node that sends it (the final `atoma` chunk excepted) and whether
   * that node is a fallback (another one was tried first). A chunk is never passed twice.
   */
  onChunk?: ((chunk: Json, nodeId: bigint, fallback?: boolean) => void) | undefined;
  /**
   * Told of each leaf signed for this request (never one signed earlier and resent first): where the charge of a
   * stream cut before its receipt is held until that leaf's receipt comes.
   */
  onSigned?: ((leaf: SignedLeaf) => void) | undefined;
  /**
   * The API key that sent it: a node's refusals of requests other nodes served put it aside for everyone only once
   * several keys saw them (one user's over-limit inputs are not the node's fault; review speed-gwfix, B-3).
   */
  keyId?: string | undefined;
  /** The request's `provider` object, validated (absent: the balanced default). */
  provider?: ProviderPreferences | undefined;
  /**
   * A confidential session's sealed request (`body` is the envelope): signed at exactly this nonce and deadline
   * (what the client sealed to), never at the stack's next free one.
   */
  sealed?: SealedSigning | undefined;
}

/** A leaf signed for a request: its stack and nonce, the bound signed, the stack's price and the body as signed. */
export interface SignedLeaf {
  stackId: bigint;
  nonce: bigint;
  maxUnits: bigint;
  pricePerMillion: bigint;
  json: string;
}

/** How a sealed request is signed, and where its sealed stream chunks go. */
export interface SealedSigning {
  nonce: bigint;
  deadline: bigint;
  onSealed?: ((event: Json, position: number) => void) | undefined;
}

/** An answer whose receipt was verified. */
export interface UpstreamAnswer {
  /** The response body without `atoma` (for streams: the chunks added up). */
  response: Json;
  /** The node's `atoma` object, as it sent it. */
  atoma: AtomaReceipt;
  /** The request body exactly as signed, whose hash the receipt names (absent from a stand-in that signs nothing). */
  request?: Json | undefined;
  nodeId: bigint;
  /** The units the receipt charged. */
  units: bigint;
  /** The price per million units of the stack that served. */
  pricePerMillion: bigint;
  /** True when another node was tried first and failed (`x-atoma-fallback`). */
  fallback?: boolean | undefined;
}

/** Where the gateway sends requests: the network (nodes, stacks, receipts), or a stand-in in tests. */
export interface Upstream {
  models(): ModelListing[];
  /** The model clients call `name`, if the network serves it. */
  model(name: string): ModelListing | undefined;
  /** The highest price per million units any request can be charged at: what budgets reserve at. */
  maxPricePerMillion(): bigint;
  /**
   * Sends the request to a node serving the model and verifies the answer. Throws `ModelNotFoundError`,
   * `NoNodeAvailableError`, the node's own refusal (`NodeRequestError`), `NodeFailedError`, or a verification error.
   */
  send(request: UpstreamRequest): Promise<UpstreamAnswer>;
}
