import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prefix of every metric the node exports. */
export const METRICS_PREFIX = "atoma_node_";

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface NodeMetricsOptions {
  /** Registry to register in; a fresh one by default (never prom-client's global). */
  registry?: Registry | undefined;
  /** Also export process metrics (CPU, memory, event loop lag). @default true */
  processMetrics?: boolean | undefined;
}

/**
 * Every metric the node exports, typed, from one place, in its own registry. Parts that may run without metrics
 * take `metrics?: NodeMetrics` and skip the calls when it is absent.
 */
export function createNodeMetrics(options: NodeMetricsOptions = {}) {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  const name = (suffix: string) => `${METRICS_PREFIX}${suffix}`;
  let countStacks: (() => Promise<Record<string, number>>) | undefined;
  return {
    registry,
    /** HTTP requests answered, by route and status. */
    httpRequests: new Counter({
      name: name("http_requests_total"),
      help: "HTTP requests answered, by route and status code",
      labelNames: ["route", "status"] as const,
      registers,
    }),
    /** HTTP requests being handled now. */
    httpInFlight: new Gauge({
      name: name("http_requests_in_flight"),
      help: "HTTP requests being handled",
      registers,
    }),
    /** Inference requests on stacks, by endpoint and outcome (`ok` or an error code). */
    requests: new Counter({
      name: name("requests_total"),
      help: "Inference requests, by endpoint and outcome",
      labelNames: ["endpoint", "outcome"] as const,
      registers,
    }),
    /** Tokens processed, by kind (`prompt` or `completion`). */
    tokens: new Counter({
      name: name("tokens_total"),
      help: "Tokens processed, by kind",
      labelNames: ["kind"] as const,
      registers,
    }),
    /** Requests waiting for the engine. */
    queueDepth: new Gauge({ name: name("queue_depth"), help: "Requests waiting for the engine", registers }),
    /** Requests generating now. */
    activeStreams: new Gauge({ name: name("active_streams"), help: "Requests generating now", registers }),
    timeToFirstToken: new Histogram({
      name: name("time_to_first_token_seconds"),
      help: "Seconds from accepting a request to its first output token",
      labelNames: ["endpoint"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    requestDuration: new Histogram({
      name: name("request_duration_seconds"),
      help: "Seconds from accepting a request to its last byte",
      labelNames: ["endpoint"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    /** Units held by requests in flight. */
    unitsReserved: new Gauge({
      name: name("units_reserved"),
      help: "Compute units held by requests in flight",
      registers,
    }),
    /** Units committed to leaves. */
    unitsUsed: new Counter({ name: name("units_used_total"), help: "Compute units committed", registers }),
    /** Stacks this node knows, by state: counted in the database at each scrape (see `countStacksWith`). */
    stacks: new Gauge({
      name: name("stacks"),
      help: "Stacks served by this node, by state",
      labelNames: ["state"] as const,
      registers,
      async collect() {
        if (!countStacks) return;
        const counts = await countStacks();
        this.reset();
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    }),
    /** Sets how the `stacks` gauge counts stacks at scrape time. */
    countStacksWith(counter: () => Promise<Record<string, number>>): void {
      countStacks = counter;
    },
    settlements: new Counter({
      name: name("settlements_total"),
      help: "Stack settlements, by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    attestations: new Counter({
      name: name("attestations_total"),
      help: "Attestation duties, by role and outcome",
      labelNames: ["role", "outcome"] as const,
      registers,
    }),
    disputes: new Counter({
      name: name("disputes_total"),
      help: "Disputes this node took part in, by role and outcome",
      labelNames: ["role", "outcome"] as const,
      registers,
    }),
    /** The chain listener's progress. */
    chainBlock: new Gauge({
      name: name("chain_block"),
      help: "Last block the chain listener handled",
      labelNames: ["listener"] as const,
      registers,
    }),
    chainEvents: new Counter({
      name: name("chain_events_total"),
      help: "Contract events handled, by event name",
      labelNames: ["listener", "event"] as const,
      registers,
    }),
    chainErrors: new Counter({
      name: name("chain_listener_errors_total"),
      help: "Chain listener iterations that failed and will be retried",
      labelNames: ["listener"] as const,
      registers,
    }),
  };
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>;
