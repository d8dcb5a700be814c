import type { CallOptions, InferenceEngine } from "@atoma/engine";

/**
 * A dishonest node's engine, for tests and benchmarks only: it answers requests for `from` with the model `to` (another seed of
 * the tiny model), and labels the answer as `from`, the way a node that runs cheaper weights would.
 */
export function rewritingEngine(inner: InferenceEngine, from: string, to: string): InferenceEngine {
  const swap = (body: unknown): unknown => {
    if (typeof body !== "object" || body === null) return body;
    const record = body as Record<string, unknown>;
    return record.model === from ? { ...record, model: to } : body;
  };
  return {
    kind: inner.kind,
    start: () => inner.start(),
    stop: () => inner.stop(),
    models: () => inner.models(),
    prepare: (body, kind, options) => inner.prepare(swap(body), kind, options),
    chat: async (body: unknown, options?: CallOptions) => {
      const result = await inner.chat(swap(body), options);
      return { ...result, response: { ...result.response, model: from } };
    },
    streamChat: (body, options) => inner.streamChat(swap(body), options),
    complete: (body, options) => inner.complete(swap(body), options),
    streamComplete: (body, options) => inner.streamComplete(swap(body), options),
    embed: (body, options) => inner.embed(swap(body), options),
    tokenize: (body, options) => inner.tokenize(swap(body), options),
    health: () => inner.health(),
    load: () => inner.load(),
  };
}
