import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Prefix of every metric the gateway exports. */
export const GATEWAY_METRICS_PREFIX = "atoma_proxy_";

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Every metric the gateway exports, in its own registry (the node's library, prom-client, the same way): requests
 * by endpoint and outcome, latency histograms, fallbacks, each node's errors, tokens and spend.
 */
export function createGatewayMetrics(options: { processMetrics?: boolean | undefined } = {}) {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: GATEWAY_METRICS_PREFIX });
  const name = (suffix: string) => `${GATEWAY_METRICS_PREFIX}${suffix}`;
  return {
    registry,
    /** Inference requests answered, by endpoint and outcome (`ok`, or the error code sent when it is a known one, else `other`). */
    requests: new Counter({
      name: name("requests_total"),
      help: "Inference requests, by endpoint and outcome",
      labelNames: ["endpoint", "outcome"] as const,
      registers,
    }),
    /** Seconds from receiving a request to its answer (for streams: to the end of the stream). */
    requestDuration: new Histogram({
      name: name("request_duration_seconds"),
      help: "Seconds from a request to its complete answer, by endpoint",
      labelNames: ["endpoint"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    /** Seconds from receiving a streamed request to its first chunk. */
    timeToFirstChunk: new Histogram({
      name: name("time_to_first_chunk_seconds"),
      help: "Seconds from a streamed request to its first chunk",
      buckets: latencyBuckets,
      registers,
    }),
    /** Requests a node other than the first choice served. */
    fallbacks: new Counter({
      name: name("fallbacks_total"),
      help: "Requests served after a fallback",
      registers,
    }),
    /** Nodes' failures, by node and kind (the error code). */
    nodeErrors: new Counter({
      name: name("node_errors_total"),
      help: "Failures of nodes, by node id and error code",
      labelNames: ["node_id", "code"] as const,
      registers,
    }),
    /** Units charged by verified receipts, by model. */
    tokens: new Counter({
      name: name("tokens_total"),
      help: "Units charged by verified receipts, by model",
      labelNames: ["model"] as const,
      registers,
    }),
    /** Stacks bought, by why: a request waited on it, or bought ahead of need. */
    stackPurchases: new Counter({
      name: name("stack_purchases_total"),
      help: "Stacks bought, by reason (request or ahead)",
      labelNames: ["reason"] as const,
      registers,
    }),
    /** Idle stacks closed on-chain. */
    stacksClosed: new Counter({
      name: name("stacks_closed_total"),
      help: "Idle stacks closed on-chain",
      registers,
    }),
    /** Owner challenges of over-claiming settlements, by kind (receipt, index) and outcome. */
    ownerChallenges: new Counter({
      name: name("owner_challenges_total"),
      help: "Owner challenges of settlements claiming more than the receipts, by kind and outcome",
      labelNames: ["kind", "outcome"] as const,
      registers,
    }),
    /** Refund claims for lies of level-3 nodes (issue 14, C-2), by outcome of each step. */
    refundClaims: new Counter({
      name: name("refund_claims_total"),
      help: "Refund claims for level-3 nodes' lying statements, by outcome (refunded, recorded, not_yet, refused, recovered, honest)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    /** TOMA the chain refunded the gateway's stacks, and the part credited to the keys that paid. */
    refunds: new Counter({
      name: name("refunds_toma_total"),
      help: "TOMA refunded to the gateway's level-3 stacks, by where it was credited (key or operator)",
      labelNames: ["credited_to"] as const,
      registers,
    }),
    /** TOMA charged to keys, by model. */
    spend: new Counter({
      name: name("spend_toma_total"),
      help: "TOMA charged to API keys, by model",
      labelNames: ["model"] as const,
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
