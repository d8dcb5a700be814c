import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RedisRateLimiter } from "../src/limits/redisRateLimiter.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { RedisHealthChannel } from "../src/routing/redisHealthChannel.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

/** Redis for tests, when `REDIS_URL` is set (said on stderr when it is not). */
const redisUrl = process.env.REDIS_URL || undefined;
const postgres = testDatabases()[1]!;
const skip = postgres.skip || redisUrl === undefined;
if (redisUrl === undefined)
  process.stderr.write("REDIS_URL is not set: the gateway's Redis tests are skipped\n");

const PROCESS_SCRIPT = fileURLToPath(new URL("./helpers/gatewayProcess.ts", import.meta.url));

function startGatewayProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", PROCESS_SCRIPT], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the gateway process exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("ready ")) resolve({ url: line.slice(6), child });
    });
  });
}

describe.skipIf(skip)("two gateways over one PostgreSQL and one Redis", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let gateways: { url: string; child: ChildProcess }[] = [];
  const prefix = `atoma:test:${randomBytes(4).toString("hex")}:`;

  beforeAll(async () => {
    db = postgres.make();
    opened = await openGatewayDatabase(db.config);
    const env = {
      DATABASE_URL: process.env.DATABASE_URL ?? "",
      GATEWAY_SCHEMA: db.config.kind === "postgres" ? db.config.schema : "",
      REDIS_URL: redisUrl ?? "",
      REDIS_PREFIX: prefix,
    };
    gateways = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(
      gateways.map(({ child }) => new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM"))),
    );
    await opened?.close();
    await db?.dispose();
  });

  const chat = (url: string, key: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 10 }),
    });

  it("holds a key's requests per minute across both, however the requests are spread and raced", async () => {
    const { key } = await new KeyStore(opened.db).create({ name: "shared", requestsPerMinute: 6 });
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => chat(gateways[i % 2]!.url, key)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(6);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);
    const served = await Promise.all(answers.map((answer) => answer.text()));
    expect(served.length).toBe(16);
    // Each gateway refused some: neither had an allowance of its own.
    for (const [g] of gateways.entries())
      expect(statuses.filter((status, i) => i % 2 === g && status === 429).length).toBeGreaterThan(0);
  });

  it("holds a key's tokens per minute across both, and gives unused tokens back", async () => {
    const { key } = await new KeyStore(opened.db).create({ name: "tokens", tokensPerMinute: 250 });
    // Each request's bound is 106 tokens and the fake node uses 10: the rest comes back to the shared bucket.
    for (let i = 0; i < 6; i++) expect((await chat(gateways[i % 2]!.url, key)).status).toBe(200);
    const redis = new Redis(redisUrl ?? "");
    try {
      const level = Number(
        await redis.hget(
          `${prefix}tpm:${(await new KeyStore(opened.db).list()).find((k) => k.name === "tokens")?.id}`,
          "level",
        ),
      );
      expect(level).toBeGreaterThan(250 - 106);
    } finally {
      redis.disconnect();
    }
    const { key: small } = await new KeyStore(opened.db).create({ name: "small", tokensPerMinute: 50 });
    for (const gateway of gateways) {
      const refused = await chat(gateway.url, small);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("x-should-retry")).toBe("false");
    }
  });
});

describe.skipIf(redisUrl === undefined)("node health shared through Redis", () => {
  const clients: Redis[] = [];
  const client = () => {
    const made = new Redis(redisUrl ?? "");
    clients.push(made);
    return made;
  };
  afterAll(() => {
    for (const made of clients) made.disconnect();
  });

  it("tells every gateway of a cooldown or a removal one of them decided, and a late one of the removals", async () => {
    const prefix = `atoma:test:${randomBytes(4).toString("hex")}:`;
    const [a, b] = [new NodeHealthBook(), new NodeHealthBook()];
    await new RedisHealthChannel(client(), client(), a, { prefix }).start();
    await new RedisHealthChannel(client(), client(), b, { prefix }).start();
    a.coolDown(3n, 60_000);
    await expect.poll(() => b.available(3n)).toBe(false);
    b.remove(4n, "response_unverified");
    await expect.poll(() => a.isRemoved(4n)).toBe(true);
    const late = new NodeHealthBook();
    await new RedisHealthChannel(client(), client(), late, { prefix }).start();
    expect(late.isRemoved(4n)).toBe(true);
    // Garbage on the channel changes nothing.
    await client().publish(`${prefix}health`, '{"from":"x","kind":"removed","nodeId":"1e9"}');
    await client().publish(`${prefix}health`, "not json");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(a.isRemoved(1_000_000_000n)).toBe(false);
  });

  it("refuses requests past a key's limit with the wait, in one atomic step per request", async () => {
    // Buckets run on Redis's clock (refilling as it passes: reviewRedisClockSkew.test.ts).
    const limiter = new RedisRateLimiter(client(), {
      prefix: `atoma:test:${randomBytes(4).toString("hex")}:`,
    });
    const limits = { keyId: "k", requestsPerMinute: 3, tokensPerMinute: null };
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => limiter.take(limits, 10)));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(3);
    const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: "rate_limit_exceeded", retryAfterSeconds: 20 });
    await expect(
      limiter.take({ keyId: "t", requestsPerMinute: null, tokensPerMinute: 5 }, 6),
    ).rejects.toMatchObject({ worthRetrying: false });
  });
});
