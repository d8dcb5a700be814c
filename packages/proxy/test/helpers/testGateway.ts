import { Writable } from "node:stream";
import type { Logger } from "@atoma/core";
import { readSse } from "@atoma/sdk";
import type { Hono } from "hono";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../../src/gateway/gatewayParts.js";
import { KeyStore } from "../../src/keys/keyStore.js";
import { RateLimiter } from "../../src/limits/rateLimiter.js";
import { SpendLedger } from "../../src/limits/spendLedger.js";
import { createGatewayMetrics } from "../../src/metrics/gatewayMetrics.js";
import { UsageBook } from "../../src/usage/usageBook.js";
import { FakeUpstream } from "./fakeUpstream.js";
import type { TestDatabaseConfig } from "./testDatabases.js";

export const ADMIN_TOKEN = "admin-token-of-at-least-32-characters!";

/** The gateway's app on a real database and a fake network, with a clock the test moves. */
export interface TestGateway {
  app: Hono;
  parts: GatewayParts;
  upstream: FakeUpstream;
  keys: KeyStore;
  ledger: SpendLedger;
  database: OpenedDatabase;
  /** Every log line, as pino writes it. */
  logs: string[];
  clock: { now: number };
  close(): Promise<void>;
}

function capturing(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return pino({ level: "debug", base: null }, sink);
}

export async function testGateway(
  db: TestDatabaseConfig,
  upstream = new FakeUpstream(),
): Promise<TestGateway> {
  const database = await openGatewayDatabase(db.config);
  const clock = { now: Date.UTC(2030, 0, 1) };
  const now = () => clock.now;
  const logs: string[] = [];
  const logger = capturing(logs);
  const keys = new KeyStore(database.db, now);
  // One request per slice, given back at once: the database shows each request's reservation (sliceBudgets.test.ts
  // holds slices across requests).
  const ledger = new SpendLedger(database.db, {
    now,
    logger,
    reservationTtlMs: 60_000,
    sliceRequests: 1,
    sliceIdleMs: 0,
  });
  const parts: GatewayParts = {
    keys,
    ledger,
    limiter: new RateLimiter(now),
    upstream,
    logger,
    now,
    bounds: { defaultMaxTokens: 100, maxCompletionTokens: 1_000 },
    usage: new UsageBook(database.db, now),
    metrics: createGatewayMetrics({ processMetrics: false }),
  };
  const app = createGatewayApp(parts, { adminToken: ADMIN_TOKEN, maxBodyBytes: 64 * 1024 });
  return { app, parts, upstream, keys, ledger, database, logs, clock, close: () => database.close() };
}

/** The lines logged at warning level or above. */
export const warnings = (lines: readonly string[]) =>
  lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 40);

/** A chat request to the app, as an OpenAI client sends it. */
export function chat(
  app: Hono,
  key: string | undefined,
  body: Record<string, unknown> = {
    model: "tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 10,
  },
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    app.request("/v1/chat/completions", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...headers,
      },
      body: JSON.stringify(body),
    }),
  );
}

export async function errorOf(response: Response): Promise<{ code: string; type: string; message: string }> {
  return ((await response.json()) as { error: { code: string; type: string; message: string } }).error;
}

/**
 * A gateway for one suite: opened on `make()`'s database before its tests, closed after (left unopened when
 * `skip`). The object is filled in before the first test runs.
 */
export function suiteGateway(make: () => TestDatabaseConfig, skip = false): TestGateway {
  const gw = {} as TestGateway;
  let db: TestDatabaseConfig | undefined;
  beforeAll(async () => {
    if (skip) return;
    db = make();
    Object.assign(gw, await testGateway(db));
  });
  afterAll(async () => {
    await gw.close?.();
    await db?.dispose();
  });
  return gw;
}

/** A promise the test resolves when it wants held requests to complete. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** The JSON events of a streamed response, until `[DONE]`. */
export async function sseEvents(response: Response): Promise<Record<string, unknown>[]> {
  const events: Record<string, unknown>[] = [];
  for await (const event of readSse(response.body!)) events.push(event as Record<string, unknown>);
  return events;
}
