import { type BoundOptions, type Endpoint, type RequestBound, requestBound } from "./requestBound.js";

/**
 * `requestBound`, with the default `max_tokens` given to a request that names no limit lowered to what the key's
 * tokens-per-minute limit holds (review of issue 12, LOW-5: a key with a small limit was refused every request that
 * did not name `max_tokens`, as one that could never fit). A request that names its own limit is bounded as it is.
 */
export function fitBound(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  options: BoundOptions,
  tokensPerMinute: number | null,
): RequestBound {
  const bound = requestBound(endpoint, body, options);
  const named = body.max_tokens != null || body.max_completion_tokens != null;
  if (endpoint === "embeddings" || named || tokensPerMinute === null || bound.maxTokens <= tokensPerMinute)
    return bound;
  const choices = typeof body.n === "number" && body.n > 0 ? body.n : 1;
  const fixed = bound.maxTokens - options.defaultMaxTokens * choices;
  const fits = Math.floor((tokensPerMinute - fixed) / choices);
  // The prompt alone is over the limit: bounded as it is, and refused as never fitting.
  if (fits < 1) return bound;
  return requestBound(endpoint, body, { ...options, defaultMaxTokens: fits });
}
