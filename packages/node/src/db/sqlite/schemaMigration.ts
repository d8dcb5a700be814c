import { type Kysely, type Migration, sql } from "kysely";

const NOW = "not null default current_timestamp";
const TIMESTAMPS = `created_at text ${NOW}, updated_at text ${NOW}`;
const RETRY = `attempts integer not null default 0, last_error text, ${TIMESTAMPS}`;

/**
 * The PostgreSQL migrations' tables as they stand after `0012`, for SQLite, in one step (a SQLite database starts
 * at this schema; later versions are appended to both lists). uint256 columns are decimal `text` (`values.ts`),
 * counters and unix times `integer` (int64), JSON and timestamps text; the checks, keys and indexes are the same.
 * Every statement is `if not exists`: SQLite migrations run outside a transaction, so a process killed while a new
 * database was being created starts over where it stopped.
 */
const TABLES = [
  `create table if not exists stacks (
    stack_id text primary key, owner text not null, task_id text not null, serving_node_id text not null,
    units_bought integer not null, units_reserved integer not null default 0, units_used integer not null default 0,
    leaf_count integer not null default 0, price_per_million text not null, expires_at integer not null,
    state text not null default 'active', ${TIMESTAMPS}, settle_deadline integer,
    constraint stacks_units_non_negative check (units_reserved >= 0 and units_used >= 0),
    constraint stacks_never_over_committed check (units_used + units_reserved <= units_bought),
    constraint stacks_state check (state in ('active', 'settling', 'settled')))`,
  `create table if not exists reservations (
    reservation_id text primary key, stack_id text not null references stacks (stack_id),
    units integer not null check (units > 0), created_at text ${NOW})`,
  `create table if not exists request_nonces (
    stack_id text not null references stacks (stack_id), nonce text not null, deadline integer not null,
    created_at text ${NOW}, constraint request_nonces_pk primary key (stack_id, nonce))`,
  `create table if not exists leaves (
    stack_id text not null references stacks (stack_id), leaf_index integer not null, req_hash text not null,
    resp_hash text not null, leaf_hash text not null, units integer not null, cumulative_units integer not null,
    seed integer not null, nonce text, request text not null, response text, created_at text ${NOW},
    constraint leaves_pk primary key (stack_id, leaf_index),
    constraint leaves_nonce_once unique (stack_id, nonce))`,
  `create table if not exists settlements (
    stack_id text primary key references stacks (stack_id), state text not null default 'pending',
    leaf_count integer not null, units_claimed integer not null, merkle_root text, transcript_blob_id text,
    settle_tx text, claim_tx text, ${RETRY},
    sampled_indices text, commit_deadline integer, data_deadline integer, data_tx text, reveal_deadline integer,
    reveal_tx text, window_ends integer, finalize_tx text, finalized_block integer, node_amount text, refunded text,
    fee_epoch text, outcome text, dispute_id text, evidence_deadline integer, evidence_tx text,
    held_bonds_done integer not null default 0)`,
  `create table if not exists settlement_challenges (
    dispute_id text primary key, stack_id text not null references settlements (stack_id),
    leaf_index text not null, leaf text not null, answer_deadline integer not null,
    state text not null default 'pending', answer_tx text, last_error text, ${TIMESTAMPS},
    constraint settlement_challenges_state
      check (state in ('pending', 'answered', 'dismissed', 'upheld', 'unanswerable')))`,
  `create table if not exists attestation_tasks (
    task_id integer primary key autoincrement,
    kind text not null check (kind in ('attest', 'committee', 'reveal')), stack_id text not null,
    round text not null, serving_node_id text, transcript_blob_id text, sampled_indices text not null,
    state text not null default 'pending', commitment text, commit_deadline integer, reveal_deadline integer,
    tx_hash text, ${RETRY}, event_block integer, result text,
    constraint attestation_tasks_once unique (kind, stack_id, round))`,
  `create table if not exists chain_cursors (
    name text primary key, next_block integer not null, last_block_hash text, updated_at text ${NOW})`,
  `create table if not exists consensus_seats (
    request_id text primary key, node_id text not null, seat_index integer not null, n integer not null,
    task_id text, prompt text, max_units integer, commit_deadline integer not null,
    state text not null default 'pending' constraint consensus_seats_state_check check (state in
      ('pending', 'sealed', 'revealed', 'committed', 'missed', 'disputed', 'delivering', 'done', 'failed')),
    output text, units integer, root text, agreed_root text, delivery_deadline integer, dispute_id text,
    dispute_deadline integer, outcome text, tx_hash text, ${RETRY}, salt text, reveal_deadline integer)`,
  `create table if not exists consensus_votes (
    dispute_id text primary key, request_id text not null, node_id text not null,
    commit_deadline integer not null, reveal_deadline integer not null,
    state text not null default 'pending'
      check (state in ('pending', 'committed', 'revealed', 'done', 'failed')),
    output text, result text, salt text, outcome text, tx_hash text, ${RETRY})`,
  `create table if not exists consensus_draws (
    request_id text primary key, task_id text not null, n integer not null, prompt text not null,
    max_units integer not null, draw_block integer not null, candidates text not null,
    state text not null default 'pending' check (state in ('pending', 'done', 'skipped', 'failed')), ${RETRY})`,
  `create table if not exists confidential_replays (enc text primary key, owner text not null, deadline integer not null)`,
  "create index if not exists stacks_by_state on stacks (state, expires_at)",
  "create index if not exists reservations_by_stack on reservations (stack_id)",
  "create index if not exists attestation_tasks_by_state on attestation_tasks (state, kind)",
  "create index if not exists consensus_seats_by_state on consensus_seats (state)",
  "create index if not exists consensus_votes_by_state on consensus_votes (state)",
  "create index if not exists consensus_draws_by_state on consensus_draws (state)",
  "create index if not exists settlements_by_state on settlements (state)",
  "create index if not exists confidential_replays_deadline on confidential_replays (deadline)",
];

export const sqliteSchema: Migration = {
  async up(db: Kysely<unknown>) {
    for (const statement of TABLES) await sql.raw(statement).execute(db);
  },
};
