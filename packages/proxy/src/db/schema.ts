import type { ColumnType } from "kysely";

/** A whole number the drivers read as `bigint` (int8, numeric) and take as bigint, number or decimal text. */
type Big = ColumnType<bigint, bigint | number | string, bigint | number | string>;
type BigDefault = ColumnType<bigint, bigint | number | string | undefined, bigint | number | string>;
/** jsonb: read parsed, written as JSON text. */
type Json<T> = ColumnType<T, string, string>;

/** API keys. Only the key's SHA-256 is kept; amounts are wei of TOMA; times are Unix milliseconds. */
export interface ApiKeysTable {
  key_id: string;
  name: string;
  key_hash: string;
  /** The key's first characters, so people can tell their keys apart. */
  key_prefix: string;
  /** null: no budget. */
  budget_wei: Big | null;
  spent_wei: BigDefault;
  /** The maxima of requests in flight, taken before sending and given back when each settles. */
  reserved_wei: BigDefault;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  /** null: every model. */
  allowed_models: Json<string[]> | null;
  expires_at_ms: Big | null;
  revoked_at_ms: Big | null;
  created_at_ms: Big;
  updated_at_ms: Big;
}

/** One request's reserved maximum; a crash leaves the row, and it is charged in full once it expires. */
export interface SpendReservationsTable {
  reservation_id: string;
  key_id: string;
  max_wei: Big;
  expires_at_ms: Big;
  /** The maxima its requests had in flight when its gateway last wrote it down; null: charged in full (older rows). */
  in_flight_wei: ColumnType<
    bigint | null,
    bigint | number | string | null | undefined,
    bigint | number | string | null
  >;
}

/** A slice the sweep took from a vanished gateway: what it charged, not yet matched by the late charges applied. */
export interface SweptSlicesTable {
  reservation_id: string;
  key_id: string;
  credit_wei: Big;
  swept_at_ms: Big;
}

export type PooledStackState = "idle" | "leased" | "retired";

/** The stacks the gateway's wallet bought, per node and model, and who uses each now. */
export interface StacksTable {
  stack_id: Big;
  model: string;
  task_id: Big;
  node_id: Big;
  node_url: string;
  node_signer: string;
  units: Big;
  price_per_million: Big;
  /** Unix seconds (the chain's clock). */
  expires_at: Big;
  /** The running total of the last receipt. */
  units_used: BigDefault;
  next_nonce: BigDefault;
  /** Every nonce below it may carry the gateway's signature (sent, answered or not): never challenged by index. */
  signed_below_nonce: BigDefault;
  /** The largest unit bound the gateway signed on the stack (0: none recorded, from before bounds were signed). */
  signed_max_units: BigDefault;
  state: ColumnType<PooledStackState, PooledStackState | undefined, PooledStackState>;
  lease_id: string | null;
  leased_until_ms: Big | null;
  last_used_ms: Big | null;
  created_at_ms: Big;
}

/** Every receipt a node signed for the gateway's stacks: the owner's evidence, and where running totals go on. */
export interface ReceiptsTable {
  stack_id: Big;
  leaf_index: Big;
  signature: string;
  /** The signed fields and the answer's result bytes (`KeptReceipt`, uints as decimal text). */
  receipt: Json<Record<string, string>>;
  created_at_ms: Big;
  /** The gateway refused it (a check failed): its leaf counts only up to its request's signed bound. */
  refused: ColumnType<boolean, boolean | undefined, boolean>;
}

/** A request the gateway signed on a stack (one per nonce): its bound, and what was sent, to resend it unchanged. */
export interface SignedRequestsTable {
  stack_id: Big;
  nonce: Big;
  max_units: Big;
  /** The path it went to; null in rows from records that did not carry the request. */
  path: string | null;
  json: string | null;
  headers: Json<Record<string, string>> | null;
  created_at_ms: Big;
}

/** Served requests per key, model and UTC day (`YYYY-MM-DD`): their count, units and cost. */
export interface UsageDailyTable {
  key_id: string;
  model: string;
  day: string;
  requests: BigDefault;
  tokens: BigDefault;
  spend_wei: BigDefault;
}

/**
 * A key charged a sealed request's whole reservation because its stream reached the client with no receipt: held
 * until the node's receipt for that leaf says what it cost (the rest given back).
 */
export interface SealedChargesTable {
  stack_id: Big;
  nonce: Big;
  key_id: string;
  max_units: Big;
  price_per_million: Big;
  charged_wei: Big;
  created_at_ms: Big;
  /** The request hash the held leaf was signed for (NULL: held before migration 0011). */
  req_hash: string | null;
  /** The least it settles at: its session's hold for the time held (0: held before migration 0013). */
  floor_wei: BigDefault;
  /** Where the charge shows in `usage_daily` and the units it shows there (NULL: not shown, or held before 0019). */
  usage_model: ColumnType<string | null, string | null | undefined, string | null>;
  usage_day: ColumnType<string | null, string | null | undefined, string | null>;
  usage_tokens: ColumnType<
    bigint | null,
    bigint | number | string | null | undefined,
    bigint | number | string | null
  >;
}

/**
 * Where each owner challenge the watcher sent stands: `sending` (sent, its id not known yet), `failed` (the send
 * failed: not made, sent again while the window lasts), `open` (followed until resolved), `closed` (resolved), or
 * `refused` (the chain refused it for good).
 */
export type OwnerChallengeState = "sending" | "failed" | "open" | "closed" | "refused";

/** An owner challenge of the gateway's, one per stack, kind and leaf index (review rev W-2, W-3). */
export interface OwnerChallengesTable {
  stack_id: Big;
  kind: "receipt" | "index";
  leaf_index: Big;
  node_id: Big;
  state: OwnerChallengeState;
  /** The chain's head when it was last sent: a challenge made by it is logged at or after this block. */
  sent_block: Big;
  challenge_id: Big | null;
  /** Unix seconds (the chain's clock). */
  answer_deadline: Big | null;
  /** The block it opened in: its answer is logged at or after it. */
  opened_at: Big | null;
  updated_at_ms: Big;
}

/** The last journal record of each gateway (`gateway_id`) applied to the database. */
export interface JournalPositionsTable {
  gateway_id: string;
  applied_seq: Big;
}

/**
 * A `ServedEvidence` statement a level-3 node signed and served the gateway (its signature checked against the
 * node's signer first). `verdict`: null until its epoch is over, then `posted` (the registry took that hash in that
 * epoch: true, nothing to claim) or `lie` (refunds are claimed for the gateway's stacks of the node).
 */
export interface ServedStatementsTable {
  node_id: Big;
  epoch: Big;
  evidence_hash: string;
  signature: string;
  verdict: "posted" | "lie" | null;
  seen_at_ms: Big;
  /** The registry had its hash posted in its epoch when it was kept (capped per node and epoch; the rest are not). */
  posted_when_kept: ColumnType<boolean, boolean | undefined, boolean>;
}

/**
 * Where each refund the watcher claims (one per lying statement and stack) stands: `pending` (to send, at
 * `next_try_ms`), `sending` (claimed by one gateway under the wallet lock; a row left so by a crash is read back from
 * the chain), `recorded` (the chain took the claim while the settlement was disputed: sent again once finalized),
 * `refunded`, or `refused` (for good: `reason` names the chain's error).
 */
export type RefundClaimState = "pending" | "sending" | "recorded" | "refunded" | "refused";

export interface RefundClaimsTable {
  node_id: Big;
  epoch: Big;
  evidence_hash: string;
  stack_id: Big;
  state: RefundClaimState;
  sent_block: Big | null;
  tries: number;
  next_try_ms: Big;
  reason: string | null;
  updated_at_ms: Big;
}

/**
 * What the chain refunded each of the gateway's stacks (`refundedTotal`) that was credited (split among the keys
 * charged on it: `stack_charges`, `stack_refund_credits`; the rest is the operator's). `key_id`: the key noted by
 * gateways before migration 0012, credited only for a stack with no charges recorded.
 */
export interface StackRefundsTable {
  stack_id: Big;
  key_id: string | null;
  credited_wei: BigDefault;
  updated_at_ms: Big;
}

/**
 * What a key was charged on one of the gateway's stacks (charges recorded with their stack: a confidential session's),
 * less what its held sealed charges gave back: the weights a refund of the stack is split by.
 */
export interface StackChargesTable {
  stack_id: Big;
  key_id: string;
  charged_wei: BigDefault;
}

/** What a key was credited, in all, of one stack's refunds (its share, at most what it was charged there). */
export interface StackRefundCreditsTable {
  stack_id: Big;
  key_id: string;
  credited_wei: BigDefault;
}

/** The next block of the wallet's refund logs the watcher reads (`RefundWatcher`: refunds and on-chain lies). */
export interface RefundLogCursorsTable {
  wallet: string;
  next_block: Big;
}

/** One event a node was counted against for (`StrikeCounter`): `kind` is the counter's (`cut`, `overbilled_cut`). */
export interface NodeStrikesTable {
  node_id: Big;
  kind: string;
  at_ms: Big;
}

/**
 * Requests a node answered (`count`) in the slice of the cut window starting at `at_ms` on the database's clock, every
 * gateway's flushes added up (`SharedAnswers`).
 */
export interface NodeAnswersTable {
  node_id: Big;
  at_ms: Big;
  count: Big;
}

/** The deadline a pending request (`stack_id`, `nonce`, its hash) carried at the node's first 409 for it. */
export interface FirstDeadlinesTable {
  stack_id: Big;
  nonce: Big;
  req_hash: string;
  deadline: Big;
  noted_at_ms: Big;
}

/** A leaf given up on the node's word (`FreedLeaves`): its request's hash, when, and the node's signed word. */
export interface FreedLeavesTable {
  stack_id: Big;
  nonce: Big;
  req_hash: string;
  freed_at_ms: Big;
  /** The node's signed `AtomaLeafDenial` of the request at the nonce (null: freed on an error answer). */
  denial_signature: string | null;
  /** Its leaf was shown since (counted once as billing what the node said it never committed). */
  shown: ColumnType<boolean, boolean | undefined, boolean>;
}

/** A request left with no receipt after its stream was cut or stopped (`CutRequests`), with what it carried. */
export interface CutRequestsTable {
  stack_id: Big;
  nonce: Big;
  req_hash: string;
  relayed_units: Big;
  streamed: boolean;
  cut_at_ms: Big;
}

/** A node taken out of rotation for good by a gateway (`RemovedNodes`): why, and when on the database's clock. */
export interface RemovedNodesTable {
  node_id: Big;
  reason: string;
  at_ms: Big;
}

export interface GatewayDatabase {
  api_keys: ApiKeysTable;
  spend_reservations: SpendReservationsTable;
  swept_slices: SweptSlicesTable;
  stacks: StacksTable;
  receipts: ReceiptsTable;
  signed_requests: SignedRequestsTable;
  sealed_charges: SealedChargesTable;
  usage_daily: UsageDailyTable;
  journal_positions: JournalPositionsTable;
  owner_challenges: OwnerChallengesTable;
  served_statements: ServedStatementsTable;
  refund_claims: RefundClaimsTable;
  stack_refunds: StackRefundsTable;
  refund_log_cursors: RefundLogCursorsTable;
  stack_charges: StackChargesTable;
  stack_refund_credits: StackRefundCreditsTable;
  node_strikes: NodeStrikesTable;
  node_answers: NodeAnswersTable;
  first_deadlines: FirstDeadlinesTable;
  freed_leaves: FreedLeavesTable;
  cut_requests: CutRequestsTable;
  removed_nodes: RemovedNodesTable;
}
