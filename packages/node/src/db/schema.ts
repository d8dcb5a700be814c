import type { ColumnType, Generated } from "kysely";

/**
 * The node's tables, as Kysely sees them. uint256 values (stack, task and node ids, nonces, wei) are
 * `numeric(78,0)`, counters are `bigint`; both arrive as `bigint` (see `typeParsers.ts`). Hashes and addresses are
 * lowercase `0x` hex text. See DESIGN.md for what each table guarantees.
 */

export type StackState = "active" | "settling" | "settled";

/** Timestamps set by the database. */
type CreatedAt = ColumnType<Date, never, never>;
type UpdatedAt = ColumnType<Date, never, Date>;

export interface StacksTable {
  stack_id: bigint;
  owner: string;
  task_id: bigint;
  serving_node_id: bigint;
  units_bought: bigint;
  units_reserved: Generated<bigint>;
  units_used: Generated<bigint>;
  /** Leaves committed so far: the next leaf's index. */
  leaf_count: Generated<bigint>;
  price_per_million: bigint;
  /** Unix seconds after which no new request is accepted. */
  expires_at: bigint;
  state: Generated<StackState>;
  /** Unix seconds: the chain's settlement deadline once the owner closed it (0008_api_stack_settle_deadline). */
  settle_deadline: Generated<bigint | null>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ReservationsTable {
  reservation_id: string;
  stack_id: bigint;
  units: bigint;
  created_at: CreatedAt;
}

export interface RequestNoncesTable {
  stack_id: bigint;
  nonce: bigint;
  deadline: bigint;
  created_at: CreatedAt;
}

export interface LeavesTable {
  stack_id: bigint;
  leaf_index: bigint;
  req_hash: string;
  resp_hash: string;
  /** H(reqHash ‖ respHash), the Merkle leaf. */
  leaf_hash: string;
  units: bigint;
  cumulative_units: bigint;
  seed: bigint;
  /** The owner's nonce for this request (unique per stack), null for requests without one. */
  nonce: bigint | null;
  /**
   * The owner-signed request (body, nonce, deadline, signature) as JSON text: one entry of the inputs transcript.
   * Text, not jsonb (0007_api_leaves_json_text): any JSON value, `\u0000` included, round-trips exactly.
   */
  request: string;
  /** The response as delivered (without the atoma object), JSON text, to answer a resend of the same request. */
  response: string | null;
  created_at: CreatedAt;
}

export type SettlementState = "pending" | "submitted" | "attesting" | "settled" | "claimed" | "failed";

export interface SettlementsTable {
  stack_id: bigint;
  state: Generated<SettlementState>;
  leaf_count: bigint;
  units_claimed: bigint;
  merkle_root: string | null;
  transcript_blob_id: string | null;
  settle_tx: string | null;
  claim_tx: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type AttestationKind = "attest" | "committee" | "reveal";
export type AttestationState = "pending" | "committed" | "revealed" | "done" | "failed";

export interface AttestationTasksTable {
  task_id: Generated<bigint>;
  kind: AttestationKind;
  stack_id: bigint;
  /** 0 for the first sampling, the dispute number for committee rounds. */
  round: bigint;
  /** Null until the worker has read it from the chain (committee duties; 0004_attest_duties). */
  serving_node_id: bigint | null;
  transcript_blob_id: string | null;
  sampled_indices: ColumnType<unknown, string, string>;
  state: Generated<AttestationState>;
  /** The committed value, kept so the reveal can be resubmitted after a crash. */
  commitment: string | null;
  commit_deadline: bigint | null;
  reveal_deadline: bigint | null;
  tx_hash: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  // ---- attest (0004_attest_duties)
  /** Block of the event that created the duty: the log searches for the stack's settlement end there. */
  event_block: bigint | null;
  /** What this node committed to: its vote (committee) or the JSON of its response hashes (attest). */
  result: string | null;
}

export interface ChainCursorsTable {
  name: string;
  /** First block not yet handled. */
  next_block: bigint;
  /** Hash of block `next_block - 1` when it was handled, to notice a reorg under the cursor. */
  last_block_hash: string | null;
  updated_at: UpdatedAt;
}

// ---------------------------------------------------------------- consensus (migration 0005_consensus_duties)

export type ConsensusSeatState =
  | "pending"
  | "sealed"
  | "revealed"
  /** Written by schema version 5 only (a commit that was public at once); read as "revealed". */
  | "committed"
  | "missed"
  | "disputed"
  | "delivering"
  | "done"
  | "failed";

/** A smart-contract request this node was sampled for (one seat per node per request). */
export interface ConsensusSeatsTable {
  request_id: bigint;
  /** This node's id (the seat holder). */
  node_id: bigint;
  /** 1-based position among the n sampled nodes: the i of leaf_i = H(O ‖ units ‖ i). */
  seat_index: number;
  n: number;
  /** Null until read (from the request's log or the contract) when the seat was recorded before the request. */
  task_id: bigint | null;
  /** The prompt bytes, 0x hex; null until read. */
  prompt: string | null;
  max_units: bigint | null;
  /** The seal deadline. */
  commit_deadline: bigint;
  reveal_deadline: bigint | null;
  state: Generated<ConsensusSeatState>;
  /** The output bytes this node computed (0x hex), kept so a crash never recomputes a committed answer. */
  output: string | null;
  units: bigint | null;
  root: string | null;
  /** The seal's secret salt, stored before the seal is sent so a crash can still reveal. */
  salt: string | null;
  agreed_root: string | null;
  delivery_deadline: bigint | null;
  dispute_id: bigint | null;
  /** The dispute's reveal deadline, after which anyone may resolve it. */
  dispute_deadline: bigint | null;
  /** How it ended: delivered, failed, outvoted, missed. */
  outcome: string | null;
  tx_hash: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type ConsensusDrawState = "pending" | "done" | "skipped" | "failed";

/** A request whose seats are still to be drawn (migration 0006_consensus_seal); its prompt is kept for the seat. */
export interface ConsensusDrawsTable {
  request_id: bigint;
  task_id: bigint;
  n: number;
  prompt: string;
  max_units: bigint;
  /** The block whose hash seeds the draw (moved on when the draw is re-armed). */
  draw_block: bigint;
  /** The node ids the request's event named as its candidates, comma-separated decimals, in the event's order. */
  candidates: string;
  state: Generated<ConsensusDrawState>;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type ConsensusVoteState = "pending" | "committed" | "revealed" | "done" | "failed";

/** A consensus dispute whose committee this node sits on. */
export interface ConsensusVotesTable {
  dispute_id: bigint;
  request_id: bigint;
  node_id: bigint;
  commit_deadline: bigint;
  reveal_deadline: bigint;
  state: Generated<ConsensusVoteState>;
  /** What the member shows after its reveal: the output it recomputed followed by its uint64 units. */
  output: string | null;
  /** The root this node recomputed: its vote. */
  result: string | null;
  /**
   * A random vote salt, written only by nodes from before vote salts were derived from the key (null since): a vote
   * sealed with it is revealed with it.
   */
  salt: string | null;
  outcome: string | null;
  tx_hash: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** A sealed request's encapsulated key, the signed request that opened it and its deadline (migration 0010). */
export interface ConfidentialReplaysTable {
  enc: string;
  /** `stackId/nonce` of the signed request. */
  owner: string;
  /** Unix seconds: past it the request cannot open anyway. */
  deadline: bigint;
}

/** A request this node signed an `AtomaLeafDenial` for at that nonce (migration 0013): never committed there. */
export interface DeniedLeavesTable {
  stack_id: bigint;
  nonce: bigint;
  req_hash: string;
  created_at: CreatedAt;
}

export interface NodeDatabase {
  confidential_replays: ConfidentialReplaysTable;
  denied_leaves: DeniedLeavesTable;
  stacks: StacksTable;
  reservations: ReservationsTable;
  request_nonces: RequestNoncesTable;
  leaves: LeavesTable;
  settlements: SettlementsTable;
  attestation_tasks: AttestationTasksTable;
  chain_cursors: ChainCursorsTable;
  consensus_seats: ConsensusSeatsTable;
  consensus_votes: ConsensusVotesTable;
  consensus_draws: ConsensusDrawsTable;
}

// ---------------------------------------------------------------- settlement worker (migration 0003_settle_progress)

/** What the chain has said about a settlement, and the worker's transactions for each phase. */
export interface SettlementsTable {
  /** The request indices attesters check, in order (decimal strings), from `AttestersSampled`. */
  sampled_indices: ColumnType<unknown, string | null, string | null>;
  commit_deadline: bigint | null;
  /** Set by `TranscriptUnavailable`: the sampled requests must be posted as calldata by then. */
  data_deadline: bigint | null;
  data_tx: string | null;
  /** Set by `RevealOpened`: the sampled response hashes must be revealed by then. */
  reveal_deadline: bigint | null;
  reveal_tx: string | null;
  /** Set by `SettlementAccepted`: the owner's challenge window closes then; finalize after. */
  window_ends: bigint | null;
  finalize_tx: string | null;
  /** Block of `SettlementFinalized`: its epoch is the one the fee is credited to. */
  finalized_block: bigint | null;
  node_amount: bigint | null;
  refunded: bigint | null;
  /** The bonds held for this node's answers to owner challenges were collected, or none were held (0012). */
  held_bonds_done: Generated<boolean>;
  fee_epoch: bigint | null;
  outcome: SettlementOutcome | null;
}

/** A dispute on one of this node's settlements (migration 0009_settle_dispute_evidence). */
export interface SettlementsTable {
  /** Set by `DisputeCreated`: the dispute the server must post its evidence to. */
  dispute_id: bigint | null;
  /** The disputed requests must be on chain by then, or the server loses as for fraud. */
  evidence_deadline: bigint | null;
  /** The last evidence transaction (set once every disputed request is posted). */
  evidence_tx: string | null;
}

export type SettlementOutcome = "accepted" | "disputed" | "finalized" | "failed" | "timed_out" | "too_late";

/**
 * `pending` until answered; `answered` once the proof is on chain; `dismissed` / `upheld` as the dispute manager
 * resolved it; `unanswerable` when the stored leaves cannot prove the challenged leaf.
 */
export type ChallengeState = "pending" | "answered" | "dismissed" | "upheld" | "unanswerable";

/** An owner's challenge of one of this node's accepted settlements (migration 0003_settle_replies_to_challenges). */
export interface SettlementChallengesTable {
  dispute_id: bigint;
  stack_id: bigint;
  leaf_index: bigint;
  /** The challenged leaf H(reqHash ‖ respHash), as the owner's node-signed response gives it. */
  leaf: string;
  answer_deadline: bigint;
  state: Generated<ChallengeState>;
  answer_tx: string | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface NodeDatabase {
  settlement_challenges: SettlementChallengesTable;
}
