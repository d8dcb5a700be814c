import type { Logger } from "@atoma/core";
import type { KeyStore } from "../keys/keyStore.js";
import type { KeyRateLimiter } from "../limits/keyRateLimiter.js";
import type { BoundOptions } from "../limits/requestBound.js";
import type { SpendLedger } from "../limits/spendLedger.js";
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
}

/** Shared with the server: once draining, new requests get 503. */
export interface GatewayState {
  draining: boolean;
}
