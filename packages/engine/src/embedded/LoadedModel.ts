import type { Hash, Logger } from "@atoma/core";
import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
} from "node-llama-cpp";
import { ContextLengthExceededError, EngineBusyError, ModelLoadError } from "../errors.js";
import type { TokenText } from "../openai/logprobs.js";
import { assertWeightsRoot } from "../weights/weightsRoot.js";
import { type Detokenize, positionIndependentDetokenizer } from "./detokenizer.js";
import { oneSequencePerBatch } from "./oneSequencePerBatch.js";
import type { EmbeddedModelSpec, ResolvedEmbeddedEngineOptions } from "./options.js";
import { PromptBuilder } from "./PromptBuilder.js";
import { SlotQueue, type Ticket } from "./SlotQueue.js";
import { tokenTextOf } from "./tokenText.js";

/**
 * One model in memory: its weights, one context whose sequences serve concurrent requests (taking turns, one
 * sequence per decode, so each produces what it would alone), the bounded queue in front of them, and an embedding
 * context made on first use.
 */
export class LoadedModel {
  readonly id: string;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly prompts: PromptBuilder;
  readonly detokenize: Detokenize;
  /** Each token's text and bytes, as logprobs show them. */
  readonly tokenText: TokenText;
  readonly queue: SlotQueue<LlamaContextSequence>;
  readonly #options: ResolvedEmbeddedEngineOptions;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;
  #embeddingLock: Promise<unknown> = Promise.resolve();

  private constructor(
    spec: EmbeddedModelSpec,
    model: LlamaModel,
    context: LlamaContext,
    options: ResolvedEmbeddedEngineOptions,
  ) {
    this.id = spec.id;
    this.model = model;
    this.context = context;
    this.#options = options;
    this.prompts = new PromptBuilder(model);
    this.detokenize = positionIndependentDetokenizer(model);
    this.tokenText = tokenTextOf(model, this.detokenize);
    const sequences = Array.from({ length: options.sequences }, () => context.getSequence());
    this.queue = new SlotQueue(sequences, options.maxQueue);
  }

  static async load(
    llama: Llama,
    spec: EmbeddedModelSpec,
    options: ResolvedEmbeddedEngineOptions,
    logger: Logger,
  ): Promise<LoadedModel> {
    if (spec.weightsRoot) await assertWeightsRoot(spec.path, spec.weightsRoot as Hash);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: spec.path, defaultContextFlashAttention: false });
    } catch (error) {
      throw new ModelLoadError(`cannot load model "${spec.id}" from ${spec.path}`, {
        details: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
    try {
      const context = await model.createContext({
        contextSize: Math.min(options.contextSize, model.trainContextSize),
        batchSize: options.batchSize,
        sequences: options.sequences,
        threads: options.threads,
        flashAttention: false,
        batching: { itemPrioritizationStrategy: oneSequencePerBatch },
      });
      logger.info(
        {
          model: spec.id,
          contextSize: context.contextSize,
          sequences: options.sequences,
          threads: options.threads,
        },
        "model loaded",
      );
      return new LoadedModel(spec, model, context, options);
    } catch (error) {
      await model.dispose();
      throw new ModelLoadError(`cannot create a context for model "${spec.id}"`, {
        details: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
  }

  /** Tokens one request may hold. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  /** The token limit for a prompt of this length: the request's, checked to fit, or the rest of the context. */
  maxTokensFor(promptTokens: number, requested: number | undefined): number {
    const room = this.contextSize - promptTokens;
    if (room < 1 || (requested !== undefined && requested > room))
      throw new ContextLengthExceededError(promptTokens, requested ?? 1, this.contextSize);
    return requested ?? room;
  }

  /** A place in this model's queue, or EngineBusyError when the queue is full. */
  admit(signal: AbortSignal | undefined): Ticket<LlamaContextSequence> {
    const ticket = this.queue.enqueue(signal);
    if (!ticket) throw new EngineBusyError(this.id, this.queue.retryAfterSeconds());
    return ticket;
  }

  /** Runs `task` on the embedding context, one at a time. */
  async withEmbeddingContext<T>(task: (context: LlamaEmbeddingContext) => Promise<T>): Promise<T> {
    this.#embedding ??= this.model.createEmbeddingContext({
      contextSize: this.contextSize,
      batchSize: this.contextSize, // an input is embedded in one batch
      threads: this.#options.threads,
    });
    const context = await this.#embedding;
    const run = this.#embeddingLock.then(() => task(context));
    this.#embeddingLock = run.catch(() => {});
    return run;
  }

  async dispose(): Promise<void> {
    const embedding = await this.#embedding?.catch(() => undefined);
    await embedding?.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}
