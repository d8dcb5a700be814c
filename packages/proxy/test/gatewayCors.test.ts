import { silentLogger } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { createGatewayMetrics } from "../src/metrics/gatewayMetrics.js";

/** A page on another origin (the explorer's playground, a web app on the SDK) calling the gateway. */
const page = "http://127.0.0.1:5999";

describe("the gateway in a browser page's calls (CORS)", () => {
  const parts = {
    logger: silentLogger,
    now: Date.now,
    metrics: createGatewayMetrics({ processMetrics: false }),
  } as unknown as GatewayParts;
  const app = createGatewayApp(parts, { adminToken: "admin-token-0123456789abcdef" });
  const preflight = (path: string, headers = "authorization, content-type") =>
    app.request(path, {
      method: "OPTIONS",
      headers: {
        origin: page,
        "access-control-request-method": "POST",
        "access-control-request-headers": headers,
      },
    });

  it("lets any origin send a bearer key to the OpenAI routes, with the headers OpenAI's browser client adds", async () => {
    const answer = await preflight("/v1/chat/completions", "authorization, content-type, x-stainless-os");
    expect(answer.status).toBe(204);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(answer.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(answer.headers.get("access-control-allow-headers")).toMatch(/x-stainless-os/);
    expect(answer.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("lets the page read an error answer, so it can show why", async () => {
    const answer = await app.request("/v1/nothing-here", { headers: { origin: page } });
    expect(answer.status).toBe(404);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBeDefined();
  });

  it("keeps the admin API and the metrics same-origin: a page cannot use an admin token it tricks out of a user", async () => {
    const admin = await preflight("/admin/v1/keys");
    expect(admin.headers.get("access-control-allow-origin")).toBeNull();
    const metrics = await app.request("/metrics", { headers: { origin: page } });
    expect(metrics.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers health to a page", async () => {
    const health = await app.request("/health", { headers: { origin: page } });
    expect(health.status).toBe(200);
    expect(health.headers.get("access-control-allow-origin")).toBe("*");
  });
});
