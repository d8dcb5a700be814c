import type { Registry } from "prom-client";
import type { NodeApp } from "../nodeEnv.js";

/** `GET /metrics`: the registry in Prometheus' text format. */
export function metricsRoute(app: NodeApp, registry: Registry): void {
  app.get("/metrics", async (c) => {
    const text = await registry.metrics();
    return c.body(text, 200, { "content-type": registry.contentType });
  });
}
