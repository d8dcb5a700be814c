import type { AtomaReceipt } from "@atoma/core";
import { ModelNotFoundError } from "../../src/errors.js";
import type { ModelListing, Upstream, UpstreamAnswer, UpstreamRequest } from "../../src/gateway/upstream.js";

/** What the fake node does with one request. */
export interface FakeBehaviour {
  /** Units the answer reports using. @default 10 */
  units?: number;
  /** Chunks streamed before the answer completes. @default 2 */
  chunks?: number;
  /** Resolves when the answer may complete (hold requests in flight). */
  hold?: Promise<void>;
  /** Fails after the chunks (a broken stream) or before any (a refusal). */
  fail?: Error;
}

const RECEIPT: AtomaReceipt = {
  node_id: "7",
  stack_id: "1",
  request_hash: `0x${"11".repeat(32)}`,
  response_hash: `0x${"22".repeat(32)}`,
  leaf_index: "0",
  nonce: "0",
  seed: "1",
  units: "10",
  cumulative_units: "10",
  signature: `0x${"33".repeat(65)}`,
};

/** A stand-in for the network: one model served by node 7 at `pricePerMillion`, answers shaped like a node's. */
export class FakeUpstream implements Upstream {
  readonly sent: UpstreamRequest[] = [];
  behaviour: (request: UpstreamRequest) => FakeBehaviour = () => ({});

  constructor(
    readonly modelId = "tiny",
    readonly pricePerMillion = 1_000_000_000n,
  ) {}

  models(): ModelListing[] {
    return [
      {
        id: this.modelId,
        created: 1,
        nodeIds: [7n],
        price: { cheapest: this.pricePerMillion, median: this.pricePerMillion },
      },
    ];
  }

  model(name: string): ModelListing | undefined {
    return this.models().find((model) => model.id === name);
  }

  maxPricePerMillion(): bigint {
    return this.pricePerMillion;
  }

  async send(request: UpstreamRequest): Promise<UpstreamAnswer> {
    if (!this.model(request.model)) throw new ModelNotFoundError();
    this.sent.push(request);
    const { units = 10, chunks = 2, hold, fail } = this.behaviour(request);
    if (fail && !request.stream) throw fail;
    const chat = request.endpoint === "chat";
    for (let i = 0; i < chunks && request.stream; i++) {
      const delta = chat
        ? { choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] }
        : {};
      request.onChunk?.(
        { id: "x", object: "chat.completion.chunk", created: 1, model: request.model, ...delta },
        7n,
      );
    }
    if (hold) await hold;
    if (fail) throw fail;
    if (request.signal.aborted) throw new Error("aborted");
    const usage = { prompt_tokens: 1, completion_tokens: units - 1, total_tokens: units };
    return {
      response: {
        id: "x",
        object: chat ? "chat.completion" : "text_completion",
        created: 1,
        model: request.model,
        choices: [
          chat ? { index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" } : {},
        ],
        usage,
      },
      atoma: { ...RECEIPT, units: String(units) },
      // What StackClient signs: the body with its stream flag.
      request: request.endpoint === "embeddings" ? request.body : { ...request.body, stream: request.stream },
      nodeId: 7n,
      units: BigInt(units),
      pricePerMillion: this.pricePerMillion,
    };
  }
}
