import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfidentialSessionsExceededError } from "../src/confidentialErrors.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { ConfidentialSessions } from "../src/gateway/confidentialSessions.js";
import type { KeyRecord } from "../src/keys/keyRecord.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { levelThreePool } from "./helpers/levelThreePool.js";

/**
 * A key squatting a model's level-3 stacks for free: it opens its share of sessions and, just before each would expire
 * unused, "uses" it with a request the node refuses (garbage sealed bytes, a replay) or aborts it at once. Neither is
 * charged, so each must count like an unused session: its slot stays taken while the request is in flight and for a
 * cool-down after it, and another key is served meanwhile.
 */
const dir = mkdtempSync(join(tmpdir(), "atoma-sessions-refused-"));
let opened: OpenedDatabase;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = {
  model: "m",
  endpoint: "chat" as const,
  path: "/v1/chat/completions",
  maxUnits: 100n,
  ignore: [],
};

async function setUp(names: string[]) {
  const keys = new KeyStore(opened.db, Date.now);
  const records: KeyRecord[] = [];
  for (const name of names) records.push((await keys.findByKey((await keys.create({ name })).key))!);
  const clock = { now: 1_000_000 };
  // A long session time: only the requests end these sessions, never their timers.
  const sessions = new ConfidentialSessions(
    {
      upstream: levelThreePool(),
      ledger: new SpendLedger(opened.db, { sliceIdleMs: 0 }),
      limiter: new RateLimiter(),
      maxPricePerMillion: () => 1n,
      now: () => clock.now,
    },
    { maxPerKey: 4, maxPerKeyPerModel: 2, ttlMs: 600_000, unusedCooldownMs: 1_000 },
  );
  return { records, clock, sessions };
}

describe("a key ending its sessions with requests that cost nothing", () => {
  it("refused by the node (settled without an answer): each counts for a cool-down, another key is served", async () => {
    const { records, clock, sessions } = await setUp(["squatter", "other"]);
    const [squatter, other] = records as [KeyRecord, KeyRecord];
    for (let round = 0; round < 2; round++) {
      const taken = [await sessions.open(squatter, request), await sessions.open(squatter, request)];
      for (const session of taken)
        await sessions.settle(sessions.take(session.id, squatter.keyId), undefined);
      await expect(sessions.open(squatter, request)).rejects.toBeInstanceOf(
        ConfidentialSessionsExceededError,
      );
      await sessions.open(other, request);
      clock.now += 1_000 + 1;
    }
    await sessions.stop();
  });

  it("aborted or refused while in flight: the slot stays taken until it settles, then cools down", async () => {
    const { records, sessions } = await setUp(["squatter"]);
    const [squatter] = records as [KeyRecord];
    const first = await sessions.open(squatter, request);
    await sessions.open(squatter, request);
    // The request is in flight (its stack still held by it): the key holds its share and cannot open another.
    const inFlight = sessions.take(first.id, squatter.keyId);
    await expect(sessions.open(squatter, request)).rejects.toBeInstanceOf(ConfidentialSessionsExceededError);
    // The client aborted before any sealed chunk: nothing charged, nothing kept.
    await sessions.settle(inFlight, undefined, false);
    await expect(sessions.open(squatter, request)).rejects.toBeInstanceOf(ConfidentialSessionsExceededError);
    await sessions.stop();
  });

  it("a served request frees its slot at once: no cool-down for a key that pays", async () => {
    const { records, sessions } = await setUp(["payer"]);
    const [payer] = records as [KeyRecord];
    for (let round = 0; round < 3; round++) {
      const session = await sessions.open(payer, request);
      await sessions
        .open(payer, request)
        .then((s) => sessions.settle(sessions.take(s.id, payer.keyId), served()));
      await sessions.settle(sessions.take(session.id, payer.keyId), served());
    }
    await sessions.stop();
  });
});

function served() {
  return { units: 10n, pricePerMillion: 1n } as unknown as Parameters<ConfidentialSessions["settle"]>[1];
}
