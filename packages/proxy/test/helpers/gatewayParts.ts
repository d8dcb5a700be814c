import { silentLogger } from "@atoma/core";
import type { OpenedDatabase } from "../../src/db/openGatewayDatabase.js";
import type { GatewayParts } from "../../src/gateway/gatewayParts.js";
import { KeyStore } from "../../src/keys/keyStore.js";
import { RateLimiter } from "../../src/limits/rateLimiter.js";
import { SpendLedger } from "../../src/limits/spendLedger.js";
import { UsageBook } from "../../src/usage/usageBook.js";

/**
 * The gateway's parts over `upstream` on `opened`, on the real clock with a silent log: each request reserves a slice
 * of its own, given back at once (the database shows each request's reservation).
 */
export function gatewayParts(opened: OpenedDatabase, upstream: GatewayParts["upstream"]): GatewayParts {
  return {
    keys: new KeyStore(opened.db, Date.now),
    ledger: new SpendLedger(opened.db, { sliceRequests: 1, sliceIdleMs: 0 }),
    limiter: new RateLimiter(),
    upstream,
    usage: new UsageBook(opened.db),
    logger: silentLogger,
    now: Date.now,
    bounds: { defaultMaxTokens: 16, maxCompletionTokens: 400 },
  };
}
