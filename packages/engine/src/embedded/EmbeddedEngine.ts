import { AtomaError, InvalidInputError, type Logger } from "@atoma/core";
import {
  getLlama,
  type Llama,
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaLogLevel,
} from "node-llama-cpp";
import { EngineStream } from "../EngineStream.js";
import { EngineStoppedError, InvalidRequestError, ModelNotFoundError } from "../errors.js";
import { numericSettingsOf } from "../fingerprint/embeddedFingerprint.js";
import { computeFingerprint, type EngineFingerprint } from "../fingerprint/fingerprint.js";
import type {
  CallOptions,
  ChatResult,
  CompletionResult,
  EngineHealth,
  EngineLoad,
  InferenceEngine,
} from "../InferenceEngine.js";
import { chatChunk, chatUsageChunk, newIdentity, textUsageChunk } from "../openai/build.js";
import { topLogprobsOf } from "../openai/logprobs.js";
import {
  type ChatRequest,
  type CompletionRequest,
  completionPrompt,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  parseTokenizeRequest,
} from "../openai/requests.js";
import type {
  ChatCompletionChunk,
  EmbeddingResponse,
  ModelCard,
  TextCompletionChunk,
  TokenizeResult,
} from "../openai/responses.js";
import { type GenerationKind, issuePrepared, type PreparedRequest, preparedOr } from "../PreparedRequest.js";
import { resolveSampling } from "../sampling.js";
import { ChatChunks } from "../structured/ChatChunks.js";
import type { ToolDialect } from "../structured/dialects/ToolDialect.js";
import {
  type OutputFormat,
  outputFormatOf,
  refuseOtherEndings,
  TEXT_OUTPUT,
} from "../structured/outputFormat.js";
import { OutputGrammars } from "../structured/outputGrammar.js";
import { TextChunks } from "../structured/TextChunks.js";
import type { Claim } from "../verify/claim.js";
import { type ReplayResult, replay } from "../verify/replay.js";
import { type ScoreOptions, type ScoreResult, score } from "../verify/score.js";
import { embed } from "./embed.js";
import { type GeneratedDelta, type GenerationOutcome, generate } from "./generate.js";
import { callIdsOf, chatResponse, generationInfo, logprobsText, textResponse } from "./generationResults.js";
import { LoadedModel } from "./LoadedModel.js";
import { llamaLogSink } from "./llamaLog.js";
import {
  type EmbeddedEngineOptions,
  embeddedEngineOptionsSchema,
  type ResolvedEmbeddedEngineOptions,
} from "./options.js";
import type { Lease } from "./SlotQueue.js";

export interface EmbeddedEngineComponents {
  logger: Logger;
  /** A llama.cpp binding to share; the engine makes (and later disposes) its own when absent. */
  llama?: Llama | undefined;
}

/** What this engine makes of a body: the prepared request, with what its answer may be and the grammar for it. */
export interface EmbeddedPrepared extends PreparedRequest {
  /** Tools, tool choice and response format resolved (free text for text completions). */
  output: OutputFormat;
  /** The grammar decoding follows (tools, JSON answers); none for free text. */
  grammar: LlamaGrammar | undefined;
  /** Alternatives to report per token; undefined: no logprobs. */
  topLogprobs: number | undefined;
}

/** A request ready to generate: prepared, with the model that runs it and its token limit, checked. */
export interface PreparedGeneration extends EmbeddedPrepared {
  loaded: LoadedModel;
  maxTokens: number;
}

/** node-llama-cpp in this process: GGUF models on CPU (or a GPU node-llama-cpp finds, with `gpu: "auto"`). */
export class EmbeddedEngine implements InferenceEngine {
  readonly kind = "embedded";
  readonly options: ResolvedEmbeddedEngineOptions;
  readonly #logger: Logger;
  #llama: Llama | undefined;
  #grammars: OutputGrammars | undefined;
  readonly #ownsLlama: boolean;
  readonly #models = new Map<string, LoadedModel>();
  #stopper = new AbortController();
  #running = false;
  #inflight = 0;
  #idle: (() => void) | undefined;

  constructor(components: EmbeddedEngineComponents, options: EmbeddedEngineOptions) {
    const parsed = embeddedEngineOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidInputError(`embedded engine option ${issue?.path.join(".")}: ${issue?.message}`);
    }
    this.options = parsed.data;
    this.#logger = components.logger.child({ module: "engine" });
    this.#llama = components.llama;
    this.#ownsLlama = components.llama === undefined;
    const ids = new Set(this.options.models.map((model) => model.id));
    if (ids.size !== this.options.models.length)
      throw new InvalidInputError("embedded engine model ids must be unique");
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#stopper = new AbortController();
    this.#llama ??= await getLlama({
      gpu: this.options.gpu,
      build: "never",
      skipDownload: true,
      logLevel: LlamaLogLevel.warn,
      logger: llamaLogSink(this.#logger, () => this.#running),
    });
    const llama = this.#llama;
    this.#grammars = new OutputGrammars(llama);
    try {
      for (const spec of this.options.models)
        this.#models.set(spec.id, await LoadedModel.load(llama, spec, this.options, this.#logger));
    } catch (error) {
      await this.#disposeModels();
      throw error;
    }
    this.#running = true;
  }

  /** Cancels what is running, waits for it to end, and frees every model. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopper.abort();
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    await this.#disposeModels();
    if (this.#ownsLlama) {
      await this.#llama?.dispose();
      this.#llama = undefined;
    }
  }

  async models(): Promise<ModelCard[]> {
    return [...this.#models.values()].map((loaded) => ({
      id: loaded.id,
      object: "model",
      created: 0,
      owned_by: "atoma",
      max_model_len: loaded.contextSize,
    }));
  }

  /** How the model served as `id` writes tool calls (what `claimFromResponse` reads a response's calls in). */
  toolDialect(id: string): ToolDialect {
    return this.modelFor(id).prompts.dialect;
  }

  /** @internal The loaded model serving `id` (verification uses it). */
  modelFor(id: string): LoadedModel {
    if (!this.#running) throw new EngineStoppedError();
    const loaded = this.#models.get(id);
    if (!loaded) throw new ModelNotFoundError(id);
    return loaded;
  }

  async prepare(body: unknown, kind: GenerationKind): Promise<PreparedRequest> {
    return issuePrepared(this, this.#prepare(body, kind));
  }

  /**
   * @internal What generation needs of a body, or of a request this engine prepared (not tokenized again): the
   * model that runs it and its token limit, checked.
   */
  generationFor(input: unknown, kind: GenerationKind): PreparedGeneration {
    const prepared = preparedOr(this, input, kind, (body) => this.#prepare(body, kind)) as EmbeddedPrepared;
    const loaded = this.modelFor(prepared.request.model);
    const maxTokens = loaded.maxTokensFor(prepared.promptTokens.length, prepared.sampling.maxTokens);
    return { ...prepared, loaded, maxTokens };
  }

  #prepare(body: unknown, kind: GenerationKind): EmbeddedPrepared {
    const request = kind === "chat" ? parseChatRequest(body) : parseCompletionRequest(body);
    const loaded = this.modelFor(request.model);
    const sampling = resolveSampling(body, request, kind);
    const output = kind === "chat" ? outputFormatOf(request as ChatRequest) : TEXT_OUTPUT;
    refuseOtherEndings(output, sampling);
    const grammar = this.#grammarFor(output, loaded);
    const promptTokens =
      kind === "chat"
        ? loaded.prompts.chatTokens(request as ChatRequest)
        : loaded.prompts.textTokens(completionPrompt(request as CompletionRequest));
    return {
      kind,
      body,
      request,
      sampling,
      promptTokens,
      promptTokenCount: promptTokens.length,
      maxModelLen: loaded.contextSize,
      output,
      grammar,
      topLogprobs: topLogprobsOf(request, kind),
    };
  }

  #grammarFor(output: OutputFormat, loaded: LoadedModel): LlamaGrammar | undefined {
    if (!this.#grammars) throw new EngineStoppedError();
    try {
      return this.#grammars.grammarFor(output, loaded.prompts.dialect);
    } catch (error) {
      if (error instanceof AtomaError) throw error;
      // Schemas are checked before; a grammar llama.cpp still refuses is refused like the schema would be.
      throw new InvalidRequestError("llama.cpp cannot build a grammar for this output format", {
        details: error instanceof Error ? error.message : String(error),
        param: output.tools.length > 0 ? "tools" : "response_format",
      });
    }
  }

  /** The same generation as `streamChat`, without handing out chunks on the way. */
  async chat(body: unknown, options: CallOptions = {}): Promise<ChatResult> {
    const prepared = this.generationFor(body, "chat");
    const identity = newIdentity("chatcmpl", prepared.request.model);
    const outcome = await drain(this.#start(prepared, options.signal, undefined).source);
    return {
      response: chatResponse(identity, prepared, outcome),
      generation: generationInfo(prepared, outcome),
    };
  }

  /** The same generation as `streamComplete`, without handing out chunks on the way. */
  async complete(body: unknown, options: CallOptions = {}): Promise<CompletionResult> {
    const prepared = this.generationFor(body, "completion");
    const identity = newIdentity("cmpl", prepared.request.model);
    const outcome = await drain(this.#start(prepared, options.signal, undefined).source);
    return {
      response: textResponse(identity, prepared, outcome),
      generation: generationInfo(prepared, outcome),
    };
  }

  async streamChat(
    body: unknown,
    options: CallOptions = {},
  ): Promise<EngineStream<ChatCompletionChunk, ChatResult>> {
    const prepared = this.generationFor(body, "chat");
    const identity = newIdentity("chatcmpl", prepared.request.model);
    const shaper = new ChatChunks(
      identity,
      prepared.output,
      callIdsOf(prepared),
      logprobsText(prepared),
      prepared.loaded.prompts.dialect,
    );
    const { source, cancel } = this.#start(prepared, options.signal, (delta) => shaper.push(delta));
    const includeUsage = prepared.request.stream_options?.include_usage === true;
    async function* chunks(): AsyncGenerator<ChatCompletionChunk, ChatResult, undefined> {
      yield chatChunk(identity, { role: "assistant", content: "" });
      const outcome = yield* source;
      yield shaper.finish(outcome.finishReason);
      const response = chatResponse(identity, prepared, outcome);
      if (includeUsage) yield chatUsageChunk(identity, response.usage);
      return { response, generation: generationInfo(prepared, outcome) };
    }
    return new EngineStream(chunks(), cancel);
  }

  async streamComplete(
    body: unknown,
    options: CallOptions = {},
  ): Promise<EngineStream<TextCompletionChunk, CompletionResult>> {
    const prepared = this.generationFor(body, "completion");
    const identity = newIdentity("cmpl", prepared.request.model);
    const shaper = new TextChunks(identity, logprobsText(prepared));
    const { source, cancel } = this.#start(prepared, options.signal, (delta) => shaper.push(delta));
    const includeUsage = prepared.request.stream_options?.include_usage === true;
    async function* chunks(): AsyncGenerator<TextCompletionChunk, CompletionResult, undefined> {
      const outcome = yield* source;
      yield shaper.finish(outcome.finishReason);
      const response = textResponse(identity, prepared, outcome);
      if (includeUsage) yield textUsageChunk(identity, response.usage);
      return { response, generation: generationInfo(prepared, outcome) };
    }
    return new EngineStream(chunks(), cancel);
  }

  async embed(body: unknown, options: CallOptions = {}): Promise<EmbeddingResponse> {
    const request = parseEmbeddingRequest(body);
    const loaded = this.modelFor(request.model);
    const ticket = loaded.admit(this.#signal(options.signal));
    return this.#track(async () => {
      const lease = await ticket.ready;
      try {
        return await embed(loaded, request, this.#signal(options.signal));
      } finally {
        lease.release();
      }
    });
  }

  async tokenize(body: unknown): Promise<TokenizeResult> {
    const request = parseTokenizeRequest(body);
    const loaded = this.modelFor(request.model);
    const tokens =
      request.messages !== undefined
        ? loaded.prompts.chatTokens({ messages: request.messages })
        : loaded.prompts.textTokens(request.prompt ?? "");
    return { model: loaded.id, tokens, count: tokens.length, max_model_len: loaded.contextSize };
  }

  async health(): Promise<EngineHealth> {
    return {
      ok: this.#running,
      models: [...this.#models.keys()],
      load: await this.load(),
      reason: this.#running ? undefined : "not started",
    };
  }

  async load(): Promise<EngineLoad> {
    const total: EngineLoad = { running: 0, waiting: 0, capacity: 0 };
    for (const loaded of this.#models.values()) {
      const load = loaded.queue.load;
      total.running += load.running;
      total.waiting += load.waiting;
      total.capacity += load.capacity;
    }
    return total;
  }

  /** The engine's numeric identity: the fixed probe run through this llama.cpp with this engine's settings. */
  async fingerprint(): Promise<EngineFingerprint> {
    const llama = this.#llama;
    if (!this.#running || !llama) throw new EngineStoppedError();
    // Tracked like a request, so stop() waits for it before it frees llama.cpp.
    return this.#track(() => computeFingerprint(llama, numericSettingsOf(this.options)));
  }

  /** Load of one model's queue. */
  modelLoad(id: string): EngineLoad {
    const { running, waiting, capacity } = this.modelFor(id).queue.load;
    return { running, waiting, capacity };
  }

  /**
   * Regenerates a chat or completion exactly and compares it with a claimed one: match, or the first token
   * (or character) where they part.
   */
  async replay(
    body: unknown,
    claim: Claim,
    options: CallOptions & { kind?: "chat" | "completion" | undefined } = {},
  ): Promise<ReplayResult> {
    if (claim.text === undefined && claim.tokenIds === undefined)
      throw new InvalidRequestError("a claim needs its text or its token ids");
    const prepared = this.generationFor(body, options.kind ?? kindOf(body));
    return replay(await drain(this.#start(prepared, options.signal, undefined).source), claim);
  }

  /**
   * Checks claimed tokens by teacher-forcing them in one prefill and testing each against what the request's
   * sampler could have picked, within a logit tolerance. Costs a fraction of generating them.
   */
  async score(
    body: unknown,
    claim: Claim,
    options: CallOptions & ScoreOptions & { kind?: "chat" | "completion" | undefined } = {},
  ): Promise<ScoreResult> {
    const prepared = this.generationFor(body, options.kind ?? kindOf(body));
    const ticket = prepared.loaded.admit(this.#signal(options.signal));
    return this.#track(async () => {
      const lease = await ticket.ready;
      try {
        return await score(prepared, lease.slot, claim, options);
      } finally {
        lease.release();
      }
    });
  }

  /** Queues a prepared generation; the returned source waits for a sequence, then yields each delta as a chunk. */
  #start<Chunk>(
    prepared: PreparedGeneration,
    callerSignal: AbortSignal | undefined,
    toChunks: ((delta: GeneratedDelta) => Iterable<Chunk>) | undefined,
  ) {
    const signal = this.#signal(callerSignal);
    const loaded = prepared.loaded;
    const ticket = loaded.admit(signal);
    const engine = this;
    // A stream that is never read still gives its slot back when its caller goes away.
    const onAbort = () => ticket.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    const cancel = () => {
      signal.removeEventListener("abort", onAbort);
      ticket.cancel();
    };
    async function* source(): AsyncGenerator<Chunk, GenerationOutcome, undefined> {
      signal.removeEventListener("abort", onAbort);
      engine.#inflight++;
      const startedAt = performance.now();
      let lease: Lease<LlamaContextSequence> | undefined;
      try {
        lease = await ticket.ready;
        const outcome = yield* generate(
          lease.slot,
          loaded.model,
          loaded.detokenize,
          prepared,
          signal,
          toChunks,
        );
        engine.#logger.debug(
          {
            model: loaded.id,
            promptTokens: outcome.promptTokens.length,
            completionTokens: outcome.completionTokens.length,
            finishReason: outcome.finishReason,
            ms: Math.round(performance.now() - startedAt),
          },
          "generated",
        );
        return outcome;
      } finally {
        if (lease) lease.release();
        else ticket.cancel();
        engine.#settled();
      }
    }
    return { source: source(), cancel };
  }

  async #track<T>(task: () => Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await task();
    } finally {
      this.#settled();
    }
  }

  #settled(): void {
    this.#inflight--;
    if (this.#inflight === 0) this.#idle?.();
  }

  #signal(callerSignal: AbortSignal | undefined): AbortSignal {
    if (!this.#running) throw new EngineStoppedError();
    return callerSignal ? AbortSignal.any([callerSignal, this.#stopper.signal]) : this.#stopper.signal;
  }

  async #disposeModels(): Promise<void> {
    for (const loaded of this.#models.values()) await loaded.dispose();
    this.#models.clear();
  }
}

/** Chat if the body has messages, else text completion. */
function kindOf(body: unknown): "chat" | "completion" {
  return typeof body === "object" && body !== null && "messages" in body ? "chat" : "completion";
}

/** Runs a source to its end and returns what it returns. */
async function drain<Outcome>(source: AsyncGenerator<unknown, Outcome, undefined>): Promise<Outcome> {
  for (;;) {
    const next = await source.next();
    if (next.done) return next.value;
  }
}
