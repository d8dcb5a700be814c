import type { Logger } from "@atoma/core";
import type { ModelCard } from "../openai/responses.js";
import type { UpstreamSpec } from "./options.js";
import { loadFromMetrics } from "./prometheus.js";

/** One OpenAI-compatible server: where it is, whether it answers, how loaded it says it is. */
export class Upstream {
  readonly url: string;
  readonly spec: UpstreamSpec;
  healthy = false;
  /** Running plus waiting requests from its metrics at the last refresh, when it publishes them. */
  reportedLoad: { running: number; waiting: number } | undefined;
  /** Requests this engine has in flight there now. */
  inflight = 0;
  models: string[];
  #learnedModels = false;

  constructor(spec: UpstreamSpec) {
    this.spec = spec;
    this.url = spec.url.replace(/\/+$/, "");
    this.models = spec.models ?? [];
  }

  /** Origin only: paths and credentials never reach logs or errors. */
  get name(): string {
    return new URL(this.url).origin;
  }

  serves(model: string): boolean {
    return this.models.includes(model);
  }

  get full(): boolean {
    return this.inflight >= this.spec.maxConcurrent;
  }

  /** What routing minimizes: what the server reports, or what this engine sent when that is higher or unknown. */
  get loadScore(): number {
    const reported = this.reportedLoad ? this.reportedLoad.running + this.reportedLoad.waiting : 0;
    return Math.max(reported, this.inflight);
  }

  headers(): Record<string, string> {
    return this.spec.apiKey ? { authorization: `Bearer ${this.spec.apiKey}` } : {};
  }

  /** Reads /health, /metrics and (until known) /v1/models. */
  async refresh(timeoutMs: number, logger: Logger): Promise<void> {
    const get = (path: string) =>
      fetch(`${this.url}${path}`, { headers: this.headers(), signal: AbortSignal.timeout(timeoutMs) });
    try {
      const health = await get("/health");
      await health.body?.cancel();
      const wasHealthy = this.healthy;
      this.healthy = health.ok;
      if (wasHealthy !== this.healthy)
        logger.info({ upstream: this.name, healthy: this.healthy }, "upstream health");
    } catch {
      if (this.healthy) logger.warn({ upstream: this.name }, "upstream unreachable");
      this.healthy = false;
      return;
    }
    try {
      const metrics = await get("/metrics");
      this.reportedLoad = metrics.ok ? loadFromMetrics(await metrics.text()) : undefined;
    } catch {
      this.reportedLoad = undefined;
    }
    if (!this.#learnedModels && this.spec.models === undefined) {
      try {
        const response = await get("/v1/models");
        const list = (await response.json()) as { data?: ModelCard[] };
        if (response.ok && Array.isArray(list.data)) {
          this.models = list.data.map((card) => card.id).filter((id) => typeof id === "string");
          this.#learnedModels = true;
        }
      } catch {
        // keep what is known; the next refresh asks again
      }
    }
  }
}
