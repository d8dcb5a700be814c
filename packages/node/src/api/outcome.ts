import { AtomaError } from "@atoma/core";
import { RequestAbortedError } from "@atoma/engine";
import type { Endpoint, StackApi } from "./apiContext.js";

/** A bounded metric label for how a request ended. */
export function outcomeOf(error: unknown): string {
  if (error instanceof RequestAbortedError) return "aborted";
  if (error instanceof AtomaError) return error.code.toLowerCase();
  return "internal_error";
}

/** Counts an answered request, its tokens and its duration. */
export function recordSuccess(
  api: StackApi,
  endpoint: Endpoint,
  usage: { prompt_tokens: number; completion_tokens?: number | undefined },
  started: number,
): void {
  const metrics = api.metrics;
  if (!metrics) return;
  metrics.requests.inc({ endpoint, outcome: "ok" });
  metrics.tokens.inc({ kind: "prompt" }, usage.prompt_tokens);
  if (usage.completion_tokens) metrics.tokens.inc({ kind: "completion" }, usage.completion_tokens);
  metrics.requestDuration.observe({ endpoint }, (performance.now() - started) / 1000);
}
