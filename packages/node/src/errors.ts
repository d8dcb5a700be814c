import { AtomaError, type AtomaErrorOptions, type AtomaReceipt, type LeafDenialWire } from "@atoma/core";
import type { NodeErrorCode } from "./errorCodes.js";

/**
 * The node's errors. Each has a stable `code`; `http/errorResponse.ts` maps codes to HTTP statuses and OpenAI
 * error types in one table. Messages never carry secrets, prompts or key material.
 */

/** A configuration option is missing or invalid; the message names the option and its environment variable. */
export class ConfigError extends AtomaError<NodeErrorCode> {
  override name = "ConfigError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("config_invalid", message, options);
  }
}

/** The key file is missing, unreadable or not a hex private key. Never carries the file's content. */
export class KeyFileError extends AtomaError<NodeErrorCode> {
  override name = "KeyFileError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("key_file_invalid", message, options);
  }
}

/** The key file can be read by its group or by others. */
export class KeyFilePermissionError extends AtomaError<NodeErrorCode> {
  override name = "KeyFilePermissionError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("key_file_permissions", message, options);
  }
}

/** The state database cannot be opened or migrated (URLs in the message have their credentials redacted). */
export class DatabaseError extends AtomaError<NodeErrorCode> {
  override name = "DatabaseError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("database_unavailable", message, options);
  }
}

/**
 * A sync of the embedded database's log failed (EIO, a full disk): the operating system may have dropped commits the
 * node acknowledged, so it takes no more requests until an operator restarts it (which closes the stacks that were
 * live, as after a power cut). Answered 503.
 */
export class DatabaseSyncFailedError extends AtomaError<NodeErrorCode> {
  override name = "DatabaseSyncFailedError";
  constructor(options?: AtomaErrorOptions) {
    super(
      "database_sync_failed",
      "the node's database could not be synced to disk: it takes no requests",
      options,
    );
  }
}

/**
 * The embedded database directory holds the other engine's files (a PGlite database from before the SQLite store,
 * say): opening it would hide the node's stacks and leaves. The message says which setting opens it.
 */
export class LegacyDatabaseError extends AtomaError<NodeErrorCode> {
  override name = "LegacyDatabaseError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("database_engine_mismatch", message, options);
  }
}

/**
 * The embedded SQLite database cannot run in the mode the node's durability needs: it did not enter WAL mode, or
 * did not take the `synchronous` level set. The node refuses to start (or to commit) rather than run unsynced.
 */
export class DatabaseModeError extends AtomaError<NodeErrorCode> {
  override name = "DatabaseModeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("database_mode_unsupported", message, options);
  }
}

/** A whole number outside int64 was written to an integer column of the embedded database, which would keep a float. */
export class IntegerColumnRangeError extends AtomaError<NodeErrorCode> {
  override name = "IntegerColumnRangeError";
  constructor(table: string, column: string, value: bigint | string, options?: AtomaErrorOptions) {
    super(
      "database_integer_range",
      `${table}.${column} is an int64 column: ${String(value)} does not fit (check or clamp it before writing)`,
      options,
    );
  }
}

export class UnknownStackError extends AtomaError<NodeErrorCode> {
  override name = "UnknownStackError";
  constructor(stackId: bigint, options?: AtomaErrorOptions) {
    super("unknown_stack", `stack ${stackId} is unknown to this node`, options);
  }
}

/** The stack exists but another node serves it. */
export class StackNotServedError extends AtomaError<NodeErrorCode> {
  override name = "StackNotServedError";
  constructor(stackId: bigint, options?: AtomaErrorOptions) {
    super("stack_not_served", `stack ${stackId} is served by another node`, options);
  }
}

/**
 * Not enough units left: `available` is what could still be reserved, so a caller may retry with less. `receipt`:
 * the stack's last leaf, signed, which the refusal carries so that the owner need not take the claim on trust.
 */
export class StackExhaustedError extends AtomaError<NodeErrorCode> {
  override name = "StackExhaustedError";
  readonly available: bigint;
  receipt: AtomaReceipt | undefined;
  constructor(stackId: bigint, requested: bigint, available: bigint) {
    super("stack_exhausted", `stack ${stackId} has ${available} units left, ${requested} needed`);
    this.available = available;
  }
}

export class StackExpiredError extends AtomaError<NodeErrorCode> {
  override name = "StackExpiredError";
  constructor(stackId: bigint) {
    super("stack_expired", `stack ${stackId} has expired`);
  }
}

/** The stack is settling or settled and takes no more requests. */
export class StackClosedError extends AtomaError<NodeErrorCode> {
  override name = "StackClosedError";
  constructor(stackId: bigint, state: string) {
    super("stack_closed", `stack ${stackId} is ${state} and takes no more requests`);
  }
}

/** A nonce was already used on this stack: the request is a replay. `next`: the nonce the stack takes next. */
export class NonceReusedError extends AtomaError<NodeErrorCode> {
  override name = "NonceReusedError";
  readonly next: bigint | undefined;
  constructor(stackId: bigint, nonce: bigint, next?: bigint | undefined) {
    super("nonce_reused", `nonce ${nonce} was already used on stack ${stackId}`);
    this.next = next;
  }
}

/**
 * A request whose nonce is not the stack's next leaf index: the owner's k-th request carries nonce k, so a stack
 * takes its requests in order. `next` is the nonce the stack takes next.
 */
export class NonceOutOfOrderError extends AtomaError<NodeErrorCode> {
  override name = "NonceOutOfOrderError";
  readonly next: bigint;
  constructor(stackId: bigint, nonce: bigint, next: bigint) {
    super("nonce_out_of_order", `stack ${stackId} takes nonce ${next} next, not ${nonce}`);
    this.next = next;
  }
}

/** A stack serves one request at a time (its leaves are numbered in order): another one is in flight. */
export class RequestInFlightError extends AtomaError<NodeErrorCode> {
  override name = "RequestInFlightError";
  constructor(stackId: bigint) {
    super(
      "request_in_flight",
      `stack ${stackId} is answering another request: send the next when it is done`,
    );
  }
}

/**
 * The node signed its owner an `AtomaLeafDenial` of this request at this nonce (no leaf for it there, and none will
 * be committed): it never commits it there (409). The owner signs it again at the stack's next nonce.
 */
export class LeafDeniedError extends AtomaError<NodeErrorCode> {
  override name = "LeafDeniedError";
  /**
   * The node's signed `AtomaLeafDenial` of that request at that nonce, sent as the 409 body's `denial`: a client acts
   * on its own signed word (a filler at that nonce), never on a bare `leaf_denied` any relay could write.
   */
  denial: LeafDenialWire | undefined;
  constructor(
    readonly stackId: bigint,
    readonly nonce: bigint,
    readonly reqHash?: string,
  ) {
    super(
      "leaf_denied",
      `stack ${stackId}'s leaf at nonce ${nonce} was denied for this request: sign it at another nonce`,
    );
  }
}

/**
 * A request's reservation is gone while its stack is still active: the database lost it (PostgreSQL commits a
 * reservation without waiting for its flush, so a server crash can drop it). No leaf was recorded and no receipt
 * goes out; the client sends the same request again. Answered 503.
 */
export class ReservationLostError extends AtomaError<NodeErrorCode> {
  override name = "ReservationLostError";
  constructor(stackId: bigint) {
    super(
      "reservation_lost",
      `the node lost the reservation of this request on stack ${stackId}: send it again`,
    );
  }
}

/** The reservation was already committed or released (or never existed). */
export class ReservationNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "ReservationNotFoundError";
  constructor(id: string) {
    super("reservation_not_found", `reservation ${id} is not open`);
  }
}

/** Actual usage exceeded the reservation and the stack has no room for the difference. */
export class UnitsExceedReservationError extends AtomaError<NodeErrorCode> {
  override name = "UnitsExceedReservationError";
  constructor(stackId: bigint, reserved: bigint, actual: bigint) {
    super("units_exceed_reservation", `stack ${stackId}: ${actual} units used, ${reserved} reserved`);
  }
}

/** A stack cannot be frozen for settlement while requests on it are in flight. */
export class StackBusyError extends AtomaError<NodeErrorCode> {
  override name = "StackBusyError";
  constructor(stackId: bigint, reserved: bigint) {
    super("stack_busy", `stack ${stackId} has ${reserved} units reserved by requests in flight`);
  }
}

export class RequestTooLargeError extends AtomaError<NodeErrorCode> {
  override name = "RequestTooLargeError";
  constructor(limitBytes: number) {
    super("request_too_large", `request body exceeds ${limitBytes} bytes`);
  }
}

export class InvalidJsonError extends AtomaError<NodeErrorCode> {
  override name = "InvalidJsonError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("invalid_json", message, options);
  }
}

export class PromptTooLongError extends AtomaError<NodeErrorCode> {
  override name = "PromptTooLongError";
  constructor(tokens: number, limit: number) {
    super("prompt_too_long", `prompt has ${tokens} tokens, the limit is ${limit}`);
  }
}

export class UnknownModelError extends AtomaError<NodeErrorCode> {
  override name = "UnknownModelError";
  constructor(model: string) {
    super("unknown_model", `model "${model.slice(0, 100)}" is not served by this node`);
  }
}

/** Too many requests waiting; `retryAfterSeconds` becomes the `Retry-After` header. */
export class QueueFullError extends AtomaError<NodeErrorCode> {
  override name = "QueueFullError";
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super("queue_full", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The node is stopping and takes no new requests. */
export class ShuttingDownError extends AtomaError<NodeErrorCode> {
  override name = "ShuttingDownError";
  constructor() {
    super("shutting_down", "the node is shutting down");
  }
}

export class RouteNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "RouteNotFoundError";
  constructor(method: string, path: string) {
    super("route_not_found", `no route for ${method} ${path.slice(0, 200)}`);
  }
}

export class InvalidBlobIdError extends AtomaError<NodeErrorCode> {
  override name = "InvalidBlobIdError";
  constructor() {
    super("invalid_blob_id", "a blob id is 0x followed by 64 lowercase hex digits");
  }
}

export class BlobNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "BlobNotFoundError";
  constructor(id: string) {
    super("blob_not_found", `blob ${id} not found`);
  }
}

export class BlobTooLargeError extends AtomaError<NodeErrorCode> {
  override name = "BlobTooLargeError";
  constructor(limitBytes: number) {
    super("blob_too_large", `blob exceeds ${limitBytes} bytes`);
  }
}

/** Downloaded bytes do not hash to the id asked for. */
export class BlobHashMismatchError extends AtomaError<NodeErrorCode> {
  override name = "BlobHashMismatchError";
  constructor(id: string, actual: string) {
    super("blob_hash_mismatch", `blob ${id} arrived with hash ${actual}`);
  }
}

export class BlobFetchError extends AtomaError<NodeErrorCode> {
  override name = "BlobFetchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("blob_fetch_failed", message, options);
  }
}

/** The chain under the listener's cursor changed: a reorg deeper than the confirmations setting. */
export class ChainReorgError extends AtomaError<NodeErrorCode> {
  override name = "ChainReorgError";
  constructor(message: string) {
    super("chain_reorg", message);
  }
}

/** Another listener moved the same cursor: two processes follow the chain over one database. */
export class CursorMovedError extends AtomaError<NodeErrorCode> {
  override name = "CursorMovedError";
  constructor(name: string) {
    super("listener_cursor_moved", `chain cursor "${name}" was moved by another listener`);
  }
}

/** The chain's JSON-RPC endpoint cannot be reached, or reports another chain than configured. */
export class ChainUnavailableError extends AtomaError<NodeErrorCode> {
  override name = "ChainUnavailableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("chain_unavailable", message, options);
  }
}

/** A part was used before the node started it, after it stopped, or started twice. */
export class NodeLifecycleError extends AtomaError<NodeErrorCode> {
  override name = "NodeLifecycleError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("node_lifecycle", message, options);
  }
}

/** The engine's health check failed (the reason is the engine's, safe to show). */
export class EngineUnhealthyError extends AtomaError<NodeErrorCode> {
  override name = "EngineUnhealthyError";
  constructor(reason: string, options?: AtomaErrorOptions) {
    super("engine_unhealthy", reason, options);
  }
}
