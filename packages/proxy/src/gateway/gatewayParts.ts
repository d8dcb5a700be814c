import type { Logger } from "@atoma/core";
import type { KeyStore } from "../keys/keyStore.js";
import type { KeyRateLimiter } from "../limits/keyRateLimiter.js";
import type { BoundOptions } from "../limits/requestBound.js";
import type { SpendLedger } from "../limits/spendLedger.js";
import type { GatewayMetrics } from "../metrics/gatewayMetrics.js";
import type { UsageBook } from "../usage/usageBook.js";
import type { ConfidentialParts } from "./confidentialRoutes.js";
import type { Upstream } from "./upstream.js";

/** What the gateway's routes work with. */
export interface GatewayParts {
  keys: KeyStore;
  ledger: SpendLedger;
  limiter: KeyRateLimiter;
  upstream: Upstream;
  logger: Logger;
  /** Unix milliseconds (tests move time). */
  now: () => number;
  bounds: BoundOptions;
  /** Where served requests are counted per key, model and day (`GET /v1/usage`); none: not counted. */
  usage?: UsageBook | undefined;
  /** Prometheus metrics (`GET /metrics`); none: not exported. */
  metrics?: GatewayMetrics | undefined;
  /** Confidential sessions (sealed requests the gateway routes unread); none: refused as unsupported. */
  confidential?: ConfidentialParts | undefined;
}

/** Shared with the server: once draining, new requests get 503. */
export interface GatewayState {
  draining: boolean;
}
