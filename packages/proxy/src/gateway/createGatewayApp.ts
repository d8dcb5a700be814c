import { Hono } from "hono";
import type { Address } from "viem";
import { RouteNotFoundError, ShuttingDownError } from "../errors.js";
import { authenticate } from "../keys/authenticate.js";
import { adminRoutes } from "./adminRoutes.js";
import { browserAccess } from "./browserAccess.js";
import { attestationRoute, sessionsRoute } from "./confidentialRoutes.js";
import { errorResponseOf } from "./errorResponse.js";
import type { GatewayParts, GatewayState } from "./gatewayParts.js";
import { gatewayRoute } from "./gatewayRoute.js";
import { inferenceRoute } from "./inferenceRoute.js";
import { modelRoute, modelsRoute } from "./modelsRoute.js";
import { requestSizeLimit } from "./requestSizeLimit.js";
import { responsesRoute } from "./responsesRoute.js";
import { adminUsageRoute, metricsRoute, usageRoute } from "./usageRoutes.js";

export interface GatewayAppOptions {
  /** Largest request body; a bigger one gets 413. @default 1048576 */
  maxBodyBytes?: number | undefined;
  /** Without it there is no admin API. */
  adminToken?: string | undefined;
  /** Bearer token `GET /metrics` asks for; without it the metrics are open to whoever reaches the port. */
  metricsToken?: string | undefined;
  state?: GatewayState | undefined;
  /** The gateway's wallet, served at `GET /v1/gateway` for clients to bind receipts to; none: no such route. */
  buyer?: Address | undefined;
}

/**
 * The gateway's HTTP API: OpenAI's `/v1/models`, `/v1/chat/completions`, `/v1/completions` and
 * `/v1/embeddings` for API keys; `/health`; the admin API when an admin token is set. Every error is
 * OpenAI-shaped; one whose text could hold internals is logged and answered as a bare 500.
 */
export function createGatewayApp(parts: GatewayParts, options: GatewayAppOptions = {}): Hono {
  const app = new Hono();
  const state = options.state ?? { draining: false };
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  // OpenAI clients in browser pages (the explorer's playground) send the API key as a bearer token, never a
  // cookie, so any origin may call the OpenAI routes; the admin API and `/metrics` stay same-origin.
  app.use("/health", browserAccess(["x-atoma-node", "x-atoma-fallback"]));
  app.use("/v1/*", browserAccess(["retry-after", "x-atoma-node", "x-atoma-fallback"]));
  app.use(async (c, next) => {
    if (state.draining && c.req.path !== "/health") throw new ShuttingDownError();
    await next();
  });
  app.use(requestSizeLimit(maxBodyBytes));
  app.get("/health", (c) =>
    c.json({ status: state.draining ? "draining" : "ok" }, state.draining ? 503 : 200),
  );
  app.get("/v1/models", modelsRoute(parts));
  app.get("/v1/models/:id{.+}", modelRoute(parts));
  if (options.buyer !== undefined) app.get("/v1/gateway", gatewayRoute(options.buyer));
  app.post("/v1/chat/completions", inferenceRoute(parts, "chat"));
  app.post("/v1/completions", inferenceRoute(parts, "completions"));
  app.post("/v1/embeddings", inferenceRoute(parts, "embeddings"));
  app.post(
    "/v1/responses",
    responsesRoute(
      (request) => Promise.resolve(app.fetch(request)),
      // The key first: a caller with none gets 401, never the body's field-level 400s.
      (authorization) => authenticate(parts.keys, authorization, parts.now()),
    ),
  );
  app.post("/v1/confidential/sessions", sessionsRoute(parts));
  app.get("/v1/confidential/sessions/:id/attestation", attestationRoute(parts));
  app.get("/v1/usage", usageRoute(parts));
  app.get("/metrics", metricsRoute(parts, options.metricsToken));
  if (options.adminToken !== undefined) {
    adminRoutes(app, parts.keys, options.adminToken);
    app.get("/admin/v1/usage", adminUsageRoute(parts));
  }
  app.notFound((c) => c.json(errorResponseOf(new RouteNotFoundError()).body, 404));
  app.onError((error, c) => {
    const response = errorResponseOf(error);
    if (!response.expected)
      parts.logger.error({ err: error, path: c.req.path.slice(0, 200) }, "request failed");
    else if (error instanceof Error && "reason" in error)
      parts.logger.debug({ code: response.body.error.code, reason: error.reason }, "request refused");
    return c.json(response.body, response.status as 400, response.headers);
  });
  return app;
}
