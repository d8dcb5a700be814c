import { type Logger, silentLogger } from "@atoma/core";
import {
  type KeptReceipt,
  NodeRequestError,
  NodeUnreachableError,
  ResponseVerificationError,
  StackClient,
  type Verified,
} from "@atoma/sdk";
import type { Address, LocalAccount } from "viem";
import { ModelNotFoundError, NodeFailedError } from "../errors.js";
import type { ModelListing, Upstream, UpstreamAnswer, UpstreamRequest } from "../gateway/upstream.js";
import { type CatalogModel, nodesOf, priceSpread } from "./catalog.js";
import type { NetworkCatalog } from "./networkCatalog.js";
import type { LeasedStack, StackPool } from "./stackPool.js";

export interface NetworkUpstreamComponents {
  /** What the network serves (a `NetworkCatalog`). */
  catalog: Pick<NetworkCatalog, "models" | "model">;
  pool: StackPool;
  /** The gateway's wallet: it owns the stacks and signs every request. */
  account: LocalAccount;
  chainId: number;
  stackManager: Address;
  logger?: Logger | undefined;
}

export interface NetworkUpstreamOptions {
  /** How long a node may take to see a stack just bought (its chain listener polls). @default 30000 */
  freshStackWaitMs?: number | undefined;
  /** Stacks tried for one request when a node refuses a stack as spent, closed or unknown. @default 3 */
  stacksPerRequest?: number | undefined;
  /**
   * The longest a node may take over one request, stream included; then it is cut and the stack given back.
   * Keep it under the spend reservations' lifetime (10 minutes). @default 300000
   */
  requestTimeoutMs?: number | undefined;
}

/** The node's refusals of a stack itself (not of the request): another stack may serve it. */
const STACK_REFUSED = new Set([
  "stack_exhausted",
  "stack_closed",
  "stack_expired",
  "stack_not_served",
  "unknown_stack",
]);

class StackRefused extends Error {
  constructor(readonly refusal: NodeRequestError) {
    super(refusal.message);
  }
}

/**
 * Sends each request to a node serving its model on one of the gateway's stacks (`StackPool`), signed by the
 * gateway's wallet with the SDK's `StackClient`, which verifies the receipt (node signature, request and
 * response hashes, units against usage, the running total). Every receipt the node signs is kept.
 */
export class NetworkUpstream implements Upstream {
  readonly #c: NetworkUpstreamComponents;
  readonly #logger: Logger;
  readonly #freshWaitMs: number;
  readonly #stacksPerRequest: number;
  readonly #timeoutMs: number;

  constructor(components: NetworkUpstreamComponents, options: NetworkUpstreamOptions = {}) {
    this.#c = components;
    this.#logger = (components.logger ?? silentLogger).child({ module: "upstream" });
    this.#freshWaitMs = options.freshStackWaitMs ?? 30_000;
    this.#stacksPerRequest = options.stacksPerRequest ?? 3;
    this.#timeoutMs = options.requestTimeoutMs ?? 300_000;
  }

  models(): ModelListing[] {
    return this.#c.catalog.models().map(listing);
  }

  model(name: string): ModelListing | undefined {
    const model = this.#c.catalog.model(name);
    return model && listing(model);
  }

  maxPricePerMillion(): bigint {
    return this.#c.pool.maxPricePerMillion;
  }

  async send(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const model = this.#c.catalog.model(request.model);
    if (!model) throw new ModelNotFoundError();
    let refused: NodeRequestError | undefined;
    for (let attempt = 0; attempt < this.#stacksPerRequest; attempt++) {
      const stack = await this.#c.pool.lease(model, request.maxUnits);
      try {
        return await this.#sendOn(stack, request);
      } catch (error) {
        if (!(error instanceof StackRefused)) throw error;
        refused = error.refusal;
      }
    }
    throw new NodeFailedError("the nodes refused every stack tried for this request", { cause: refused });
  }

  /** One request on one leased stack; the lease is given back (or the stack retired) whatever happens. */
  async #sendOn(stack: LeasedStack, request: UpstreamRequest): Promise<UpstreamAnswer> {
    const kept: Promise<void>[] = [];
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(this.#timeoutMs)]);
    const client = new StackClient({
      nodeUrl: stack.nodeUrl,
      account: this.#c.account,
      stackId: stack.stackId,
      chainId: this.#c.chainId,
      stackManager: this.#c.stackManager,
      nodeSigner: stack.nodeSigner,
      nodeId: stack.nodeId,
      stackUnits: stack.units,
      receipts: await this.#previous(stack),
      firstNonce: stack.nextNonce,
      onReceipt: (receipt) => kept.push(this.#c.pool.keepReceipt(receipt)),
      fetch: (input, init) => fetch(input, { ...init, signal }),
    });
    let streamed = false;
    const onChunk = (chunk: Record<string, unknown>) => {
      streamed = true;
      request.onChunk?.(chunk, stack.nodeId);
    };
    try {
      const verified = await this.#ask(client, stack, request, onChunk, signal);
      return {
        response: verified.response,
        atoma: verified.atoma,
        nodeId: stack.nodeId,
        units: verified.fields.units,
        pricePerMillion: stack.pricePerMillion,
      };
    } catch (error) {
      const refusal = error instanceof NodeRequestError && STACK_REFUSED.has(error.code) ? error : undefined;
      if (refusal || error instanceof ResponseVerificationError) {
        await Promise.allSettled(kept);
        await this.#c.pool.retire(stack, refusal?.code ?? (error as ResponseVerificationError).code);
        if (error instanceof ResponseVerificationError)
          this.#logger.error(
            { nodeId: String(stack.nodeId), stackId: String(stack.stackId), err: error },
            "a node's receipt failed verification: the stack is retired and its receipts kept",
          );
        if (refusal && !streamed) throw new StackRefused(refusal);
      }
      throw this.#failure(error, stack);
    } finally {
      await Promise.allSettled(kept);
      const last = client.receipts.at(-1);
      await this.#c.pool.release(stack, {
        unitsUsed: last?.fields.cumulativeUnits ?? 0n,
        nextNonce: client.nextNonce,
      });
    }
  }

  async #ask(
    client: StackClient,
    stack: LeasedStack,
    request: UpstreamRequest,
    onChunk: (chunk: Record<string, unknown>) => void,
    signal: AbortSignal,
  ): Promise<Verified> {
    const giveUpAt = Date.now() + this.#freshWaitMs;
    for (;;) {
      try {
        return await call(client, request, onChunk);
      } catch (error) {
        const unseen = error instanceof NodeRequestError && error.code === "unknown_stack";
        if (!(unseen && stack.fresh && Date.now() < giveUpAt && !signal.aborted)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** What the client is told: the node's refusal of the request as it is, anything else as the gateway's 502. */
  #failure(error: unknown, stack: LeasedStack): unknown {
    if (error instanceof NodeRequestError && error.status < 500) return error;
    if (error instanceof ResponseVerificationError || error instanceof NodeUnreachableError) return error;
    this.#logger.warn({ nodeId: String(stack.nodeId), err: error }, "a node failed a request");
    return new NodeFailedError(`node ${stack.nodeId} failed the request`, { cause: error });
  }

  async #previous(stack: LeasedStack): Promise<KeptReceipt[]> {
    const last = await this.#c.pool.lastReceipt(stack.stackId);
    return last ? [last] : [];
  }
}

function call(
  client: StackClient,
  request: UpstreamRequest,
  onChunk: (chunk: Record<string, unknown>) => void,
): Promise<Verified> {
  switch (request.endpoint) {
    case "embeddings":
      return client.embeddings(request.body);
    case "chat":
      return request.stream ? client.chatStream(request.body, onChunk) : client.chat(request.body);
    case "completions":
      return request.stream
        ? client.completionsStream(request.body, onChunk)
        : client.completions(request.body);
  }
}

function listing(model: CatalogModel): ModelListing {
  return {
    id: model.name,
    created: model.firstSeen,
    nodeIds: nodesOf(model).map((node) => node.nodeId),
    price: priceSpread(model),
  };
}
