import { LEAF_READ_HEADERS, type Logger, STACK_HEADERS, silentLogger } from "@atoma/core";
import { type Context, Hono } from "hono";
import { matchedRoutes } from "hono/route";
import type { BlobStore } from "../blobs/blobStore.js";
import { RequestTooLargeError, RouteNotFoundError, ShuttingDownError } from "../errors.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import { bodyLimitFirst } from "./bodyLimitFirst.js";
import { httpErrorOf } from "./errorResponse.js";
import type { HealthCheck, ModelCatalog, NodeApp, NodeEnv, RouteInstaller, ServerState } from "./nodeEnv.js";
import { corsAnyOrigin, requestIdAfter } from "./responseHeaders.js";
import { blobsRoute } from "./routes/blobs.js";
import { healthRoute } from "./routes/health.js";
import { metricsRoute } from "./routes/metrics.js";
import { modelsRoute } from "./routes/models.js";

export interface HttpAppComponents {
  blobs: BlobStore;
  models: ModelCatalog;
  logger?: Logger | undefined;
  /** Without it there is no `/metrics` route. */
  metrics?: NodeMetrics | undefined;
  /** Checked by `/health`. @default [] */
  healthChecks?: HealthCheck[] | undefined;
  /** Set `draining` to refuse new requests with 503 while shutting down. @default { draining: false } */
  state?: ServerState | undefined;
}

export interface HttpAppOptions {
  /** Largest request body; a bigger one gets 413 `request_too_large`. */
  maxBodyBytes: number;
  /** Routes of other parts (the stack API), added after the built-in ones. @default [] */
  routes?: RouteInstaller[] | undefined;
}

/** The route a request matched, for metric labels (bounded: never the raw path). */
function routeLabel(c: Context<NodeEnv>): string {
  const route = matchedRoutes(c).findLast((r) => r.method !== "ALL");
  return route?.path ?? "unmatched";
}

/**
 * The node's HTTP API: request ids, a body-size limit, OpenAI-shaped errors mapped in one place
 * (`errorResponse.ts`), access logs without bodies or query strings, request metrics, and the routes
 * `GET /health`, `GET /metrics`, `GET /v1/models`, `GET /v1/blobs/{id}` plus those of the parts given.
 */
export function createHttpApp(components: HttpAppComponents, options: HttpAppOptions): NodeApp {
  const logger = (components.logger ?? silentLogger).child({ module: "http" });
  const metrics = components.metrics;
  const state = components.state ?? { draining: false };
  const app = new Hono<NodeEnv>();

  app.use(requestIdAfter(64));
  // Browser pages (the explorer, a web app on the SDK) call the API from their own origin. Requests carry the
  // owner's signature, never a cookie, so any origin may; `/metrics` stays same-origin.
  const browsers = corsAnyOrigin({ maxAge: 600 });
  app.use("/health", browsers);
  app.use("/v1/*", browsers);
  app.use(async (c, next) => {
    const started = performance.now();
    metrics?.httpInFlight.inc();
    try {
      await next();
    } finally {
      metrics?.httpInFlight.dec();
      const status = c.res.status;
      metrics?.httpRequests.inc({ route: routeLabel(c), status: String(status) });
      logger[status >= 500 ? "warn" : "debug"](
        {
          requestId: c.get("requestId"),
          method: c.req.method,
          path: c.req.path.slice(0, 200),
          status,
          ms: Math.round(performance.now() - started),
        },
        "request",
      );
    }
  });
  app.use(async (c, next) => {
    // `/health` keeps answering (503 "draining") so load balancers see the shutdown.
    if (state.draining && c.req.path !== "/health") throw new ShuttingDownError();
    await next();
  });
  app.use(
    bodyLimitFirst({
      maxSize: options.maxBodyBytes,
      onError: () => {
        throw new RequestTooLargeError(options.maxBodyBytes);
      },
    }),
  );

  // A stack's owner may call from a browser page: requests are authorised by their EIP-712 signature, not cookies.
  app.use(
    "/v1/*",
    corsAnyOrigin({
      allowHeaders: [
        "content-type",
        ...Object.values(STACK_HEADERS).filter((h) => h !== STACK_HEADERS.nextNonce),
        LEAF_READ_HEADERS.requestHash,
      ],
      exposeHeaders: ["retry-after", STACK_HEADERS.nextNonce],
      maxAge: 600,
    }),
  );
  healthRoute(app, state, components.healthChecks ?? []);
  if (metrics) metricsRoute(app, metrics.registry);
  modelsRoute(app, components.models);
  blobsRoute(app, components.blobs);
  for (const install of options.routes ?? []) install(app);

  app.notFound((c) => {
    const error = httpErrorOf(new RouteNotFoundError(c.req.method, c.req.path));
    return c.json(error.body, 404);
  });
  app.onError((error, c) => {
    const response = httpErrorOf(error);
    if (!response.expected) logger.error({ requestId: c.get("requestId"), err: error }, "request failed");
    return c.json(response.body, response.status as 500, response.headers);
  });
  return app;
}
