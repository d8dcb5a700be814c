/**
 * One gateway in its own process for the scale-out test: PostgreSQL (`DATABASE_URL`, schema `GATEWAY_SCHEMA`),
 * Redis (`REDIS_URL`, prefix `REDIS_PREFIX`) and the fake network. Prints `ready <url>`, stops on SIGTERM.
 */
import { silentLogger } from "@atoma/core";
import { Redis } from "ioredis";
import { openGatewayDatabase } from "../../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../../src/gateway/createGatewayApp.js";
import { GatewayServer } from "../../src/gateway/gatewayServer.js";
import { KeyStore } from "../../src/keys/keyStore.js";
import { RedisRateLimiter } from "../../src/limits/redisRateLimiter.js";
import { SpendLedger } from "../../src/limits/spendLedger.js";
import { FakeUpstream } from "./fakeUpstream.js";

const env = (name: string) => process.env[name] ?? "";
const database = await openGatewayDatabase({
  kind: "postgres",
  url: env("DATABASE_URL"),
  schema: env("GATEWAY_SCHEMA"),
  poolSize: 5,
});
const redis = new Redis(env("REDIS_URL"));
const state = { draining: false };
const app = createGatewayApp(
  {
    keys: new KeyStore(database.db),
    ledger: new SpendLedger(database.db),
    limiter: new RedisRateLimiter(redis, { prefix: env("REDIS_PREFIX") }),
    upstream: new FakeUpstream(),
    logger: silentLogger,
    now: Date.now,
    bounds: { defaultMaxTokens: 100, maxCompletionTokens: 1_000 },
  },
  { state },
);
const server = new GatewayServer(app, state);
await server.start();
process.stdout.write(`ready ${server.url}\n`);
process.on("SIGTERM", async () => {
  await server.stop();
  redis.disconnect();
  await database.close();
  process.exit(0);
});
