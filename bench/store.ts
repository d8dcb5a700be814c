// Embedded store: the node's per-request reserve + commit on PGlite vs libsql (SQLite, WAL), latency and process RSS.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { leafHash } from "@atoma/core";
import { Accounting, insertStack, openStateDatabase } from "@atoma/node";
import { Kysely, SqliteDialect, sql } from "kysely";
import Database from "libsql";
import { percentile, report } from "./lib/report.js";

/** Requests timed per store, after the warm-up ones. */
const REQUESTS = 1_000;
const WARM_UP = 50;
/** Runs of each store, taken in turn; each figure is the best run's (the one least disturbed by other work). */
const ROUNDS = 3;
const NODE_ID = 7n;
const STACK_ID = (1n << 255n) + 12_345n;
const UNITS_BOUGHT = 1_000_000_000n;

/**
 * The stores compared. `pglite`, `sqlite` and `sqlite_normal` are the node's own code (`openStateDatabase` and
 * `Accounting`) on its embedded engines: PGlite (`database.engine = "pglite"`), and SQLite with
 * `synchronous = "full"` or `"normal"` (the default: the log synced off the thread, `walSync.ts`). The libsql ones run
 * the same SQL work as prepared statements, each step one synchronous transaction. `synchronous=NORMAL` in WAL
 * mode writes every commit to the OS before it returns (a kill -9 loses nothing) and syncs at checkpoints: the
 * guarantee PGlite gives today, which runs with `fsync` off (`-F` in its start parameters). `FULL` also syncs the
 * WAL on every commit, which survives power loss too, at one fsync per transaction. `libsql_kysely` is NORMAL
 * with the statements sent through Kysely's async `SqliteDialect`, as the node's other queries would be.
 */
const KINDS = [
  "bare",
  "pglite",
  "sqlite",
  "sqlite_normal",
  "libsql_normal",
  "libsql_full",
  "libsql_kysely",
] as const;
type Kind = (typeof KINDS)[number];

/** What one request stores: a signed request and its answer, about the size of a short completion's. */
const leafOf = (k: number) => ({
  units: 40n,
  reqHash: `0x${k.toString(16).padStart(64, "0")}` as const,
  respHash: `0x${(k + 1).toString(16).padStart(64, "0")}` as const,
  seed: BigInt(k),
  request: {
    model: "tiny",
    prompt: "Once upon a time, in a land far away,".repeat(4),
    max_tokens: 16,
    temperature: 0.8,
    seed: k,
  },
  response: {
    id: `cmpl-${k}`,
    object: "text_completion",
    choices: [{ index: 0, text: "x".repeat(320), finish_reason: "length" }],
    usage: { prompt_tokens: 24, completion_tokens: 16, total_tokens: 40 },
  },
});

/** One request's store work through the node's embedded database, on either engine. */
async function nodeRequests(
  dir: string,
  engine: "pglite" | "sqlite",
  synchronous?: "full" | "normal",
): Promise<() => Promise<void>> {
  const store = await openStateDatabase({ kind: "embedded", dir, engine, synchronous });
  await insertStack(store.db, {
    stackId: STACK_ID,
    owner: "0x0000000000000000000000000000000000000001",
    taskId: 1n,
    servingNodeId: NODE_ID,
    unitsBought: UNITS_BOUGHT,
    pricePerMillion: 1n,
    expiresAt: 4_000_000_000n,
  });
  const accounting = new Accounting({ db: store.db }, { nodeId: NODE_ID });
  let nonce = 0n;
  return async () => {
    const leaf = leafOf(Number(nonce));
    const reservation = await accounting.reserve({ stackId: STACK_ID, units: 100n, nonce: nonce++ });
    await accounting.commit(reservation, leaf);
  };
}

/** The node's hot-path tables in SQLite: uint256 ids as decimal TEXT, counts as INTEGER, the same checks. */
const SQLITE_SCHEMA = `
  create table stacks (
    stack_id text primary key, serving_node_id text not null, units_bought integer not null,
    units_reserved integer not null default 0, units_used integer not null default 0,
    leaf_count integer not null default 0, expires_at integer not null, state text not null default 'active',
    updated_at integer not null,
    check (units_reserved >= 0 and units_used >= 0), check (units_used + units_reserved <= units_bought));
  create table reservations (
    reservation_id text primary key, stack_id text not null references stacks, units integer not null check (units > 0),
    created_at integer not null);
  create table leaves (
    stack_id text not null references stacks, leaf_index integer not null, req_hash text not null,
    resp_hash text not null, leaf_hash text not null, units integer not null, cumulative_units integer not null,
    seed integer not null, nonce text, request text not null, response text, created_at integer not null,
    primary key (stack_id, leaf_index), unique (stack_id, nonce));
  create index reservations_by_stack on reservations (stack_id);`;

/** A libsql database in WAL mode with the hot-path tables and one stack. */
function openSqlite(dir: string, synchronous: "NORMAL" | "FULL"): Database.Database {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, "state.db"));
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma("foreign_keys = ON");
  db.exec(SQLITE_SCHEMA);
  db.prepare(
    "insert into stacks (stack_id, serving_node_id, units_bought, expires_at, updated_at) values (?, ?, ?, ?, ?)",
  ).run(String(STACK_ID), String(NODE_ID), UNITS_BOUGHT, 4_000_000_000n, Date.now());
  return db;
}

/** The same two steps in libsql: reserve (conditional update, reservation row) and commit, each one transaction. */
function libsqlRequests(dir: string, synchronous: "NORMAL" | "FULL"): () => Promise<void> {
  const db = openSqlite(dir, synchronous);
  const hold = db.prepare(`update stacks set units_reserved = units_reserved + ?, updated_at = ?
    where stack_id = ? and serving_node_id = ? and state = 'active' and expires_at > ? and leaf_count = ?
      and units_reserved = 0 and units_bought - units_used - units_reserved >= ?
    returning units_used`);
  hold.safeIntegers(true);
  const addReservation = db.prepare(
    "insert into reservations (reservation_id, stack_id, units, created_at) values (?, ?, ?, ?)",
  );
  const findReservation = db.prepare("select stack_id, units from reservations where reservation_id = ?");
  findReservation.safeIntegers(true);
  const addUnits =
    db.prepare(`update stacks set units_reserved = units_reserved - ?, units_used = units_used + ?,
      leaf_count = leaf_count + 1, updated_at = ?
    where stack_id = ? and leaf_count = ? and units_used = ? and units_used + ? + units_reserved - ? <= units_bought`);
  const dropReservation = db.prepare("delete from reservations where reservation_id = ?");
  const addLeaf = db.prepare(`insert into leaves (stack_id, leaf_index, req_hash, resp_hash, leaf_hash, units,
      cumulative_units, seed, nonce, request, response, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const reserve = db.transaction((id: string, units: bigint, nonce: bigint): bigint | undefined => {
    const now = Date.now();
    const nowSeconds = BigInt(Math.floor(now / 1000));
    const held = hold.get(units, now, String(STACK_ID), String(NODE_ID), nowSeconds, nonce, units) as
      | { units_used: bigint }
      | undefined;
    if (held) addReservation.run(id, String(STACK_ID), units, now);
    return held?.units_used;
  });
  const commit = db.transaction((id: string, usedBefore: bigint, nonce: bigint, k: number): string => {
    const reservation = findReservation.get(id) as { stack_id: string; units: bigint } | undefined;
    if (!reservation) return "no_reservation";
    const leaf = leafOf(k);
    const now = Date.now();
    const moved = addUnits.run(
      reservation.units,
      leaf.units,
      now,
      reservation.stack_id,
      nonce,
      usedBefore,
      leaf.units,
      reservation.units,
    );
    if (moved.changes !== 1) return "over_or_moved";
    // The node's leaf hash, as \`Accounting.commit\` computes it, so both stores do the same JavaScript work.
    const hash = leafHash({
      leafIndex: nonce,
      nonce,
      reqHash: leaf.reqHash,
      respHash: leaf.respHash,
      units: leaf.units,
      cumulativeUnits: usedBefore + leaf.units,
    });
    dropReservation.run(id);
    addLeaf.run(
      reservation.stack_id,
      nonce,
      leaf.reqHash,
      leaf.respHash,
      hash,
      leaf.units,
      usedBefore + leaf.units,
      leaf.seed,
      String(nonce),
      JSON.stringify(leaf.request),
      JSON.stringify(leaf.response),
      now,
    );
    return "committed";
  });
  let nonce = 0n;
  return async () => {
    const id = randomUUID();
    const usedBefore = reserve.immediate(id, 100n, nonce);
    if (usedBefore === undefined) throw new Error(`reserve held nothing at nonce ${nonce}`);
    const outcome = commit.immediate(id, usedBefore, nonce, Number(nonce));
    if (outcome !== "committed") throw new Error(`commit: ${outcome}`);
    nonce++;
  };
}

/**
 * The same SQL through Kysely's `SqliteDialect` (what the node's other queries would use): each step a Kysely
 * transaction of awaited statements, to see what the async driver costs over calling libsql directly.
 */
function libsqlKyselyRequests(dir: string): () => Promise<void> {
  const raw = openSqlite(dir, "NORMAL");
  raw.defaultSafeIntegers(true);
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw as never }) });
  const stackId = String(STACK_ID);
  let nonce = 0n;
  return async () => {
    const id = randomUUID();
    const units = 100n;
    const usedBefore = await db.transaction().execute(async (trx) => {
      const now = Date.now();
      const { rows } = await sql<{ units_used: bigint }>`update stacks
        set units_reserved = units_reserved + ${units}, updated_at = ${now}
        where stack_id = ${stackId} and serving_node_id = ${String(NODE_ID)} and state = 'active'
          and expires_at > ${Math.floor(now / 1000)} and leaf_count = ${nonce} and units_reserved = 0
          and units_bought - units_used - units_reserved >= ${units}
        returning units_used`.execute(trx);
      if (rows[0])
        await sql`insert into reservations (reservation_id, stack_id, units, created_at)
          values (${id}, ${stackId}, ${units}, ${now})`.execute(trx);
      return rows[0]?.units_used;
    });
    if (usedBefore === undefined) throw new Error(`reserve held nothing at nonce ${nonce}`);
    const leaf = leafOf(Number(nonce));
    const outcome = await db.transaction().execute(async (trx) => {
      const found = await sql<{ stack_id: string; units: bigint }>`select stack_id, units from reservations
        where reservation_id = ${id}`.execute(trx);
      const reservation = found.rows[0];
      if (!reservation) return "no_reservation";
      const now = Date.now();
      const moved = await sql`update stacks set units_reserved = units_reserved - ${reservation.units},
          units_used = units_used + ${leaf.units}, leaf_count = leaf_count + 1, updated_at = ${now}
        where stack_id = ${reservation.stack_id} and leaf_count = ${nonce} and units_used = ${usedBefore}
          and units_used + ${leaf.units} + units_reserved - ${reservation.units} <= units_bought`.execute(
        trx,
      );
      if (moved.numAffectedRows !== 1n) return "over_or_moved";
      const hash = leafHash({
        leafIndex: nonce,
        nonce,
        reqHash: leaf.reqHash,
        respHash: leaf.respHash,
        units: leaf.units,
        cumulativeUnits: usedBefore + leaf.units,
      });
      await sql`delete from reservations where reservation_id = ${id}`.execute(trx);
      await sql`insert into leaves (stack_id, leaf_index, req_hash, resp_hash, leaf_hash, units, cumulative_units,
          seed, nonce, request, response, created_at)
        values (${reservation.stack_id}, ${nonce}, ${leaf.reqHash}, ${leaf.respHash}, ${hash}, ${leaf.units},
          ${usedBefore + leaf.units}, ${leaf.seed}, ${String(nonce)}, ${JSON.stringify(leaf.request)},
          ${JSON.stringify(leaf.response)}, ${now})`.execute(trx);
      return "committed";
    });
    if (outcome !== "committed") throw new Error(`commit: ${outcome}`);
    nonce++;
  };
}

/** Resident memory of this process, in MB. */
const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

/** In a child process of its own: one store's timings and the process's resident memory after them. */
async function child(kind: Kind, dir: string): Promise<void> {
  const request =
    kind === "bare"
      ? async () => {}
      : kind === "pglite" || kind === "sqlite" || kind === "sqlite_normal"
        ? await nodeRequests(
            dir,
            kind === "pglite" ? "pglite" : "sqlite",
            kind === "sqlite_normal" ? "normal" : "full",
          )
        : kind === "libsql_kysely"
          ? libsqlKyselyRequests(dir)
          : libsqlRequests(dir, kind === "libsql_full" ? "FULL" : "NORMAL");
  for (let i = 0; i < WARM_UP; i++) await request();
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    await request();
    ms.push(performance.now() - started);
  }
  process.stdout.write(
    `${JSON.stringify({ p50: percentile(ms, 50), p99: percentile(ms, 99), rss: rssMb() })}\n`,
  );
  process.exit(0);
}

const [, , flag, kind, dir] = process.argv;
if (flag === "--child") {
  await child(kind as Kind, dir!);
} else {
  const root = mkdtempSync(join(tmpdir(), "atoma-bench-store-"));
  const runs = Object.fromEntries(KINDS.map((each) => [each, []])) as unknown as Record<
    Kind,
    { p50: number; p99: number; rss: number }[]
  >;
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const each of KINDS) {
        const ran = spawnSync(
          process.execPath,
          [
            "--import",
            "tsx",
            fileURLToPath(import.meta.url),
            "--child",
            each,
            join(root, `${each}-${round}`),
          ],
          { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
        );
        if (ran.status !== 0) throw new Error(`the ${each} run failed (${ran.status})`);
        runs[each].push(JSON.parse(ran.stdout.trim().split("\n").at(-1)!));
      }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const best = (each: Kind, figure: "p50" | "p99" | "rss") =>
    Math.min(...runs[each].map((run) => run[figure]));
  const results = Object.fromEntries(
    KINDS.map((each) => [each, { p50: best(each, "p50"), p99: best(each, "p99"), rss: best(each, "rss") }]),
  ) as Record<Kind, { p50: number; p99: number; rss: number }>;
  report("store_rss_mb_bare", results.bare.rss, "MB");
  for (const each of KINDS.slice(1)) {
    report(`store_request_p50_ms_${each}`, results[each].p50, "ms");
    report(`store_request_p99_ms_${each}`, results[each].p99, "ms");
    report(`store_rss_mb_${each}`, results[each].rss, "MB");
  }
  for (const each of ["sqlite", "sqlite_normal", "libsql_normal", "libsql_full", "libsql_kysely"] as const) {
    report(`store_p50_pglite_vs_${each}_ratio`, results.pglite.p50 / results[each].p50, "x");
    report(`store_p99_pglite_vs_${each}_ratio`, results.pglite.p99 / results[each].p99, "x");
    report(`store_rss_pglite_vs_${each}_ratio`, results.pglite.rss / results[each].rss, "x");
  }
}
