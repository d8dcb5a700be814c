import { describe, expect, it } from "vitest";
import { createNodeMetrics, METRICS_PREFIX } from "./nodeMetrics.js";

describe("createNodeMetrics", () => {
  it("exports every metric the issue lists under one prefix, in its own registry", async () => {
    const metrics = createNodeMetrics();
    metrics.requests.inc({ endpoint: "chat", outcome: "ok" });
    metrics.tokens.inc({ kind: "completion" }, 12);
    metrics.timeToFirstToken.observe({ endpoint: "chat" }, 0.05);
    metrics.requestDuration.observe({ endpoint: "chat" }, 0.4);
    metrics.settlements.inc({ outcome: "submitted" });
    metrics.attestations.inc({ role: "attester", outcome: "committed" });
    metrics.disputes.inc({ role: "committee", outcome: "won" });
    metrics.stacks.set({ state: "active" }, 3);
    const text = await metrics.registry.metrics();
    for (const name of [
      "requests_total",
      "tokens_total",
      "queue_depth",
      "active_streams",
      "time_to_first_token_seconds_bucket",
      "request_duration_seconds_bucket",
      "units_reserved",
      "units_used_total",
      "stacks",
      "settlements_total",
      "attestations_total",
      "disputes_total",
      "process_cpu_seconds_total",
    ])
      expect(text).toContain(`${METRICS_PREFIX}${name}`);
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names.every((name) => name.startsWith(METRICS_PREFIX))).toBe(true);
  });

  it("lets two nodes in one process keep separate metrics", async () => {
    const a = createNodeMetrics({ processMetrics: false });
    const b = createNodeMetrics({ processMetrics: false });
    a.unitsUsed.inc(5);
    expect((await b.unitsUsed.get()).values[0]?.value ?? 0).toBe(0);
    expect((await a.unitsUsed.get()).values[0]?.value).toBe(5);
  });
});
