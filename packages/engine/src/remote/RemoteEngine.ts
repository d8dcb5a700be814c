import { InvalidInputError, type Logger } from "@atoma/core";
import { EngineStream } from "../EngineStream.js";
import {
  EngineBusyError,
  EngineStoppedError,
  InvalidRequestError,
  ModelNotFoundError,
  RequestAbortedError,
  UpstreamError,
} from "../errors.js";
import type {
  CallOptions,
  ChatResult,
  CompletionResult,
  EngineHealth,
  EngineLoad,
  GenerationInfo,
  InferenceEngine,
} from "../InferenceEngine.js";
import {
  chatChunk,
  chatCompletion,
  chatUsageChunk,
  newIdentity,
  type ResponseIdentity,
  textChunk,
  textCompletion,
  textUsageChunk,
  usageOf,
} from "../openai/build.js";
import {
  type ChatRequest,
  type CompletionRequest,
  completionPrompt,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  parseTokenizeRequest,
  refuseStructuredOutput,
} from "../openai/requests.js";
import type {
  ChatCompletionChunk,
  EmbeddingResponse,
  ModelCard,
  TextCompletionChunk,
  TextFinishReason,
  TokenizeResult,
  Usage,
} from "../openai/responses.js";
import { type GenerationKind, issuePrepared, type PreparedRequest, preparedOr } from "../PreparedRequest.js";
import { resolveSampling, type SamplingSettings } from "../sampling.js";
import {
  type RemoteEngineOptions,
  type ResolvedRemoteEngineOptions,
  remoteEngineOptionsSchema,
} from "./options.js";
import { serverSentData } from "./sse.js";
import { Upstream } from "./Upstream.js";

export interface RemoteEngineComponents {
  logger: Logger;
}

type Json = Record<string, unknown>;

/** What the upstream said about one completion, gathered from a JSON body or a stream of chunks. */
interface UpstreamOutcome {
  text: string;
  finishReason: TextFinishReason;
  usage: Usage;
}

/**
 * Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server) behind the engine interface. Requests go to the
 * least loaded healthy upstream serving the model (load from each server's Prometheus metrics, or from what this
 * engine has in flight there), with every sampling setting made explicit so the upstream computes what an
 * attester recomputes; streams are relayed chunk by chunk and usage is the server's own count.
 */
export class RemoteEngine implements InferenceEngine {
  readonly kind = "remote";
  readonly options: ResolvedRemoteEngineOptions;
  readonly #logger: Logger;
  readonly #upstreams: Upstream[];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopper = new AbortController();

  constructor(components: RemoteEngineComponents, options: RemoteEngineOptions) {
    const parsed = remoteEngineOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidInputError(`remote engine option ${issue?.path.join(".")}: ${issue?.message}`);
    }
    this.options = parsed.data;
    this.#logger = components.logger.child({ module: "remote-engine" });
    this.#upstreams = this.options.upstreams.map((spec) => new Upstream(spec));
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#stopper = new AbortController();
    this.#running = true;
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#timer);
    this.#stopper.abort();
  }

  /** Reads every upstream's health, load and models now. */
  async refresh(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.refresh(this.options.probeTimeoutMs, this.#logger)));
  }

  async models(): Promise<ModelCard[]> {
    const ids = new Set(this.#upstreams.filter((u) => u.healthy).flatMap((u) => u.models));
    return [...ids].map((id) => ({ id, object: "model", created: 0, owned_by: "upstream" }));
  }

  async chat(body: unknown, options: CallOptions = {}): Promise<ChatResult> {
    return (await this.streamChat(body, options)).collect();
  }

  async complete(body: unknown, options: CallOptions = {}): Promise<CompletionResult> {
    return (await this.streamComplete(body, options)).collect();
  }

  /** Validates and resolves the body, and counts its prompt with the upstream's `/tokenize`. */
  async prepare(body: unknown, kind: GenerationKind, options: CallOptions = {}): Promise<PreparedRequest> {
    const { request, sampling } = parsed(body, kind);
    const tokenized = await this.tokenize(
      kind === "chat"
        ? { model: request.model, messages: (request as ChatRequest).messages }
        : { model: request.model, prompt: completionPrompt(request as CompletionRequest) },
      options,
    );
    return issuePrepared(this, {
      kind,
      body,
      request,
      sampling,
      promptTokens: tokenized.tokens,
      promptTokenCount: tokenized.count,
      maxModelLen: tokenized.max_model_len,
    });
  }

  async streamChat(
    body: unknown,
    options: CallOptions = {},
  ): Promise<EngineStream<ChatCompletionChunk, ChatResult>> {
    const { request, sampling } = preparedOr(this, body, "chat", (input) => parsed(input, "chat"));
    const identity = newIdentity("chatcmpl", request.model);
    const sent = await this.#send(
      request.model,
      "/v1/chat/completions",
      upstreamBody(request, sampling, true),
      options.signal,
    );
    const includeUsage = request.stream_options?.include_usage === true;
    const deltas = relay(sent, "chat");
    async function* chunks(): AsyncGenerator<ChatCompletionChunk, ChatResult, undefined> {
      yield chatChunk(identity, { role: "assistant", content: "" });
      const outcome = yield* mapOutcome(deltas, (delta) => chatChunk(identity, { content: delta }));
      yield chatChunk(identity, {}, outcome.finishReason);
      if (includeUsage) yield chatUsageChunk(identity, outcome.usage);
      return {
        response: chatCompletion(
          identity,
          { role: "assistant", content: outcome.text },
          outcome.finishReason,
          outcome.usage,
        ),
        generation: generationInfo(sampling),
      };
    }
    return new EngineStream(chunks(), sent.release);
  }

  async streamComplete(
    body: unknown,
    options: CallOptions = {},
  ): Promise<EngineStream<TextCompletionChunk, CompletionResult>> {
    const { request, sampling } = preparedOr(this, body, "completion", (input) =>
      parsed(input, "completion"),
    );
    const identity: ResponseIdentity = newIdentity("cmpl", request.model);
    const sent = await this.#send(
      request.model,
      "/v1/completions",
      upstreamBody(request, sampling, true),
      options.signal,
    );
    const includeUsage = request.stream_options?.include_usage === true;
    const deltas = relay(sent, "completion");
    async function* chunks(): AsyncGenerator<TextCompletionChunk, CompletionResult, undefined> {
      const outcome = yield* mapOutcome(deltas, (delta) => textChunk(identity, delta));
      yield textChunk(identity, "", outcome.finishReason);
      if (includeUsage) yield textUsageChunk(identity, outcome.usage);
      return {
        response: textCompletion(identity, outcome.text, outcome.finishReason, outcome.usage),
        generation: generationInfo(sampling),
      };
    }
    return new EngineStream(chunks(), sent.release);
  }

  async embed(body: unknown, options: CallOptions = {}): Promise<EmbeddingResponse> {
    const request = parseEmbeddingRequest(body);
    const result = (await this.#json(
      request.model,
      "/v1/embeddings",
      request,
      options.signal,
    )) as EmbeddingResponse;
    if (
      result?.object !== "list" ||
      !Array.isArray(result.data) ||
      typeof result.usage?.prompt_tokens !== "number"
    )
      throw new UpstreamError("upstream sent a malformed embeddings response", undefined);
    return { ...result, model: request.model };
  }

  async tokenize(body: unknown, options: CallOptions = {}): Promise<TokenizeResult> {
    const request = parseTokenizeRequest(body);
    const result = (await this.#json(
      request.model,
      "/tokenize",
      request,
      options.signal,
    )) as Partial<TokenizeResult>;
    if (!Array.isArray(result?.tokens) || typeof result.count !== "number")
      throw new UpstreamError("upstream sent a malformed tokenize response", undefined);
    return {
      model: request.model,
      tokens: result.tokens,
      count: result.count,
      max_model_len: result.max_model_len ?? 0,
    };
  }

  async health(): Promise<EngineHealth> {
    const healthy = this.#upstreams.filter((u) => u.healthy);
    return {
      ok: this.#running && healthy.length > 0,
      models: (await this.models()).map((card) => card.id),
      load: await this.load(),
      reason: !this.#running
        ? "not started"
        : healthy.length === 0
          ? "no upstream answers its health check"
          : undefined,
    };
  }

  async load(): Promise<EngineLoad> {
    const load: EngineLoad = { running: 0, waiting: 0, capacity: 0 };
    for (const upstream of this.#upstreams.filter((u) => u.healthy)) {
      const reported = upstream.reportedLoad;
      load.running += Math.max(reported?.running ?? 0, upstream.inflight);
      load.waiting += reported?.waiting ?? 0;
      load.capacity += upstream.spec.maxConcurrent;
    }
    return load;
  }

  /** Upstreams state, for health pages and tests. */
  upstreams(): { url: string; healthy: boolean; inflight: number; loadScore: number; models: string[] }[] {
    return this.#upstreams.map((u) => ({
      url: u.name,
      healthy: u.healthy,
      inflight: u.inflight,
      loadScore: u.loadScore,
      models: [...u.models],
    }));
  }

  /** Posts to the least loaded upstream serving `model`, moving on to the next when one fails before answering. */
  async #send(model: string, path: string, body: Json, callerSignal: AbortSignal | undefined) {
    if (!this.#running) throw new EngineStoppedError();
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, this.#stopper.signal])
      : this.#stopper.signal;
    const serving = this.#upstreams.filter((u) => u.serves(model));
    if (serving.length === 0) throw new ModelNotFoundError(model);
    const tried = new Set<Upstream>();
    let busy: EngineBusyError | undefined;
    let failure: unknown;
    for (;;) {
      const candidates = serving.filter((u) => u.healthy && !u.full && !tried.has(u));
      const upstream = candidates.sort((a, b) => a.loadScore - b.loadScore || a.inflight - b.inflight)[0];
      if (!upstream) break;
      tried.add(upstream);
      upstream.inflight++;
      let response: Response;
      try {
        response = await fetch(`${upstream.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...upstream.headers() },
          body: JSON.stringify(body),
          signal,
        });
      } catch (error) {
        upstream.inflight--;
        if (signal.aborted) throw new RequestAbortedError();
        upstream.healthy = false;
        this.#logger.warn({ upstream: upstream.name }, "upstream unreachable; trying another");
        failure = error;
        continue;
      }
      if (response.ok) return { upstream, response, signal, release: releaser(upstream, response, signal) };
      upstream.inflight--;
      const error = await upstreamError(response, model);
      if (error instanceof EngineBusyError) busy = error;
      else if (error instanceof UpstreamError && (response.status >= 500 || response.status === 408))
        failure = error;
      else throw error;
    }
    if (busy) throw busy;
    if (failure)
      throw failure instanceof UpstreamError
        ? failure
        : new UpstreamError("no upstream answered", undefined, { cause: failure });
    if (serving.some((u) => u.healthy)) {
      const soonest = Math.max(1, Math.min(60, Math.ceil(Math.min(...serving.map((u) => u.inflight)) / 4)));
      throw new EngineBusyError(model, soonest);
    }
    throw new UpstreamError(`no healthy upstream serves model "${model}"`, undefined);
  }

  /** A non-streaming POST answered with JSON. */
  async #json(model: string, path: string, body: Json, signal: AbortSignal | undefined): Promise<unknown> {
    const sent = await this.#send(model, path, body, signal);
    try {
      return await sent.response.json();
    } catch (error) {
      if (sent.signal.aborted) throw new RequestAbortedError();
      throw new UpstreamError("upstream sent a body that is not JSON", sent.response.status, {
        cause: error,
      });
    } finally {
      sent.release();
    }
  }
}

interface Sent {
  upstream: Upstream;
  response: Response;
  signal: AbortSignal;
  /** Frees the upstream's in-flight slot and the response body; safe to call more than once. */
  release: () => void;
}

/** The release of a request in flight: on completion, on cancel, or when its caller goes away. */
function releaser(upstream: Upstream, response: Response, signal: AbortSignal): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    signal.removeEventListener("abort", release);
    upstream.inflight--;
    response.body?.cancel().catch(() => {});
  };
  signal.addEventListener("abort", release, { once: true });
  return release;
}

/** Reads the upstream's SSE stream: yields text deltas, returns the outcome (usage as the server counted it). */
async function* relay(
  sent: Sent,
  kind: "chat" | "completion",
): AsyncGenerator<string, UpstreamOutcome, undefined> {
  const { response, signal } = sent;
  let text = "";
  let finishReason: TextFinishReason | undefined;
  let usage: Usage | undefined;
  try {
    if (!response.body) throw new UpstreamError("upstream sent no body", response.status);
    for await (const data of serverSentData(response.body)) {
      if (data.trim() === "[DONE]") break;
      const chunk = parseJson(data) as Json & {
        choices?: Json[];
        usage?: Usage | null;
        error?: { message?: string };
      };
      if (chunk.error)
        throw new UpstreamError(`upstream failed mid-stream: ${chunk.error.message ?? "error"}`, 200);
      if (chunk.usage) usage = checkedUsage(chunk.usage);
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = kind === "chat" ? (choice.delta as Json | undefined)?.content : choice.text;
      if (typeof delta === "string" && delta.length > 0) {
        text += delta;
        yield delta;
      }
      if (choice.finish_reason != null) finishReason = checkedFinish(choice.finish_reason);
    }
  } catch (error) {
    if (signal.aborted) throw new RequestAbortedError();
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError("the upstream stream broke off", response.status, { cause: error });
  } finally {
    sent.release();
  }
  if (!finishReason)
    throw new UpstreamError("upstream stream ended without a finish_reason", response.status);
  if (!usage) throw new UpstreamError("upstream stream carried no usage", response.status);
  return { text, finishReason, usage };
}

/**
 * A chat or completion body validated, with its sampling settings. Tools, JSON answers and logprobs are refused:
 * an upstream's grammar and probabilities are not what a verifier's embedded engine would compute.
 */
function parsed(body: unknown, kind: GenerationKind): Pick<PreparedRequest, "request" | "sampling"> {
  const request = kind === "chat" ? parseChatRequest(body) : parseCompletionRequest(body);
  refuseStructuredOutput(request);
  return { request, sampling: resolveSampling(body, request, kind) };
}

/**
 * The request as the upstream gets it: every sampling setting explicit (the seed derived from the client's body
 * when it named none), streamed with usage, so the outcome is what an attester recomputes.
 */
function upstreamBody(
  request: ChatRequest | CompletionRequest,
  sampling: SamplingSettings,
  stream: boolean,
): Json {
  return {
    ...request,
    temperature: sampling.temperature,
    top_p: sampling.topP,
    top_k: sampling.topK > 0 ? sampling.topK : -1,
    min_p: sampling.minP,
    seed: sampling.seed,
    ...(sampling.maxTokens === undefined ? {} : { max_tokens: sampling.maxTokens }),
    ...("max_completion_tokens" in request ? { max_completion_tokens: undefined } : {}),
    ...(sampling.stop.length > 0 ? { stop: sampling.stop } : {}),
    ...(sampling.ignoreEos ? { ignore_eos: true } : {}),
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  };
}

async function* mapOutcome<Chunk>(
  source: AsyncGenerator<string, UpstreamOutcome, undefined>,
  toChunk: (delta: string) => Chunk,
): AsyncGenerator<Chunk, UpstreamOutcome, undefined> {
  let done = false;
  try {
    for (;;) {
      const next = await source.next();
      if (next.done) {
        done = true;
        return next.value;
      }
      yield toChunk(next.value);
    }
  } finally {
    if (!done) await source.return(undefined as never);
  }
}

function generationInfo(sampling: SamplingSettings): GenerationInfo {
  return { sampling, maxTokens: sampling.maxTokens };
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw new UpstreamError("upstream sent an event that is not JSON", 200, { cause: error });
  }
}

function checkedFinish(value: unknown): TextFinishReason {
  if (value === "stop" || value === "length") return value;
  throw new UpstreamError(`upstream finished with "${String(value)}"`, 200);
}

function checkedUsage(usage: Usage): Usage {
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!count(usage.prompt_tokens) || !count(usage.completion_tokens))
    throw new UpstreamError("upstream sent malformed usage", 200);
  return usageOf(usage.prompt_tokens, usage.completion_tokens);
}

/** The named error an upstream's failure status stands for. */
async function upstreamError(response: Response, model: string): Promise<Error> {
  let message = `HTTP ${response.status}`;
  try {
    const body = (await response.json()) as { error?: { message?: string; code?: string | null } | string };
    const error = typeof body.error === "string" ? { message: body.error } : body.error;
    if (error?.message) message = error.message;
  } catch {
    // keep the status line
  }
  if (response.status === 429) {
    const retryAfter = Number(response.headers.get("retry-after"));
    return new EngineBusyError(
      model,
      Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 1,
    );
  }
  if (response.status === 404) return new ModelNotFoundError(model);
  if (response.status === 400 || response.status === 422)
    return new InvalidRequestError(`upstream refused the request: ${message}`);
  return new UpstreamError(`upstream answered ${response.status}: ${message}`, response.status);
}
