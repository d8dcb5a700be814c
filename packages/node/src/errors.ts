import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/**
 * The node's errors. Each has a stable `code`; `http/errorResponse.ts` maps codes to HTTP statuses and OpenAI
 * error types in one table. Messages never carry secrets, prompts or key material.
 */

/** A configuration option is missing or invalid; the message names the option and its environment variable. */
export class ConfigError extends AtomaError {
  override name = "ConfigError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("CONFIG_INVALID", message, options);
  }
}

/** The key file is missing, unreadable or not a hex private key. Never carries the file's content. */
export class KeyFileError extends AtomaError {
  override name = "KeyFileError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("KEY_FILE_INVALID", message, options);
  }
}

/** The key file can be read by its group or by others. */
export class KeyFilePermissionError extends AtomaError {
  override name = "KeyFilePermissionError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("KEY_FILE_PERMISSIONS", message, options);
  }
}

/** The state database cannot be opened or migrated (URLs in the message have their credentials redacted). */
export class DatabaseError extends AtomaError {
  override name = "DatabaseError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("DATABASE_UNAVAILABLE", message, options);
  }
}

export class UnknownStackError extends AtomaError {
  override name = "UnknownStackError";
  constructor(stackId: bigint, options?: AtomaErrorOptions) {
    super("UNKNOWN_STACK", `stack ${stackId} is unknown to this node`, options);
  }
}

/** The stack exists but another node serves it. */
export class StackNotServedError extends AtomaError {
  override name = "StackNotServedError";
  constructor(stackId: bigint, options?: AtomaErrorOptions) {
    super("STACK_NOT_SERVED", `stack ${stackId} is served by another node`, options);
  }
}

/** Not enough units left: `available` is what could still be reserved, so a caller may retry with less. */
export class StackExhaustedError extends AtomaError {
  override name = "StackExhaustedError";
  readonly available: bigint;
  constructor(stackId: bigint, requested: bigint, available: bigint) {
    super("STACK_EXHAUSTED", `stack ${stackId} has ${available} units left, ${requested} needed`);
    this.available = available;
  }
}

export class StackExpiredError extends AtomaError {
  override name = "StackExpiredError";
  constructor(stackId: bigint) {
    super("STACK_EXPIRED", `stack ${stackId} has expired`);
  }
}

/** The stack is settling or settled and takes no more requests. */
export class StackClosedError extends AtomaError {
  override name = "StackClosedError";
  constructor(stackId: bigint, state: string) {
    super("STACK_CLOSED", `stack ${stackId} is ${state} and takes no more requests`);
  }
}

/** A nonce was already used on this stack: the request is a replay. `next`: the nonce the stack takes next. */
export class NonceReusedError extends AtomaError {
  override name = "NonceReusedError";
  readonly next: bigint | undefined;
  constructor(stackId: bigint, nonce: bigint, next?: bigint | undefined) {
    super("NONCE_REUSED", `nonce ${nonce} was already used on stack ${stackId}`);
    this.next = next;
  }
}

/**
 * A request whose nonce is not the stack's next leaf index: the owner's k-th request carries nonce k, so a stack
 * takes its requests in order. `next` is the nonce the stack takes next.
 */
export class NonceOutOfOrderError extends AtomaError {
  override name = "NonceOutOfOrderError";
  readonly next: bigint;
  constructor(stackId: bigint, nonce: bigint, next: bigint) {
    super("NONCE_OUT_OF_ORDER", `stack ${stackId} takes nonce ${next} next, not ${nonce}`);
    this.next = next;
  }
}

/** A stack serves one request at a time (its leaves are numbered in order): another one is in flight. */
export class RequestInFlightError extends AtomaError {
  override name = "RequestInFlightError";
  constructor(stackId: bigint) {
    super(
      "REQUEST_IN_FLIGHT",
      `stack ${stackId} is answering another request: send the next when it is done`,
    );
  }
}

/** The reservation was already committed or released (or never existed). */
export class ReservationNotFoundError extends AtomaError {
  override name = "ReservationNotFoundError";
  constructor(id: string) {
    super("RESERVATION_NOT_FOUND", `reservation ${id} is not open`);
  }
}

/** Actual usage exceeded the reservation and the stack has no room for the difference. */
export class UnitsExceedReservationError extends AtomaError {
  override name = "UnitsExceedReservationError";
  constructor(stackId: bigint, reserved: bigint, actual: bigint) {
    super("UNITS_EXCEED_RESERVATION", `stack ${stackId}: ${actual} units used, ${reserved} reserved`);
  }
}

/** A stack cannot be frozen for settlement while requests on it are in flight. */
export class StackBusyError extends AtomaError {
  override name = "StackBusyError";
  constructor(stackId: bigint, reserved: bigint) {
    super("STACK_BUSY", `stack ${stackId} has ${reserved} units reserved by requests in flight`);
  }
}

export class RequestTooLargeError extends AtomaError {
  override name = "RequestTooLargeError";
  constructor(limitBytes: number) {
    super("REQUEST_TOO_LARGE", `request body exceeds ${limitBytes} bytes`);
  }
}

export class InvalidJsonError extends AtomaError {
  override name = "InvalidJsonError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("INVALID_JSON", message, options);
  }
}

export class PromptTooLongError extends AtomaError {
  override name = "PromptTooLongError";
  constructor(tokens: number, limit: number) {
    super("PROMPT_TOO_LONG", `prompt has ${tokens} tokens, the limit is ${limit}`);
  }
}

export class UnknownModelError extends AtomaError {
  override name = "UnknownModelError";
  constructor(model: string) {
    super("UNKNOWN_MODEL", `model "${model.slice(0, 100)}" is not served by this node`);
  }
}

/** Too many requests waiting; `retryAfterSeconds` becomes the `Retry-After` header. */
export class QueueFullError extends AtomaError {
  override name = "QueueFullError";
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super("QUEUE_FULL", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The node is stopping and takes no new requests. */
export class ShuttingDownError extends AtomaError {
  override name = "ShuttingDownError";
  constructor() {
    super("SHUTTING_DOWN", "the node is shutting down");
  }
}

export class RouteNotFoundError extends AtomaError {
  override name = "RouteNotFoundError";
  constructor(method: string, path: string) {
    super("ROUTE_NOT_FOUND", `no route for ${method} ${path.slice(0, 200)}`);
  }
}

export class InvalidBlobIdError extends AtomaError {
  override name = "InvalidBlobIdError";
  constructor() {
    super("INVALID_BLOB_ID", "a blob id is 0x followed by 64 lowercase hex digits");
  }
}

export class BlobNotFoundError extends AtomaError {
  override name = "BlobNotFoundError";
  constructor(id: string) {
    super("BLOB_NOT_FOUND", `blob ${id} not found`);
  }
}

export class BlobTooLargeError extends AtomaError {
  override name = "BlobTooLargeError";
  constructor(limitBytes: number) {
    super("BLOB_TOO_LARGE", `blob exceeds ${limitBytes} bytes`);
  }
}

/** Downloaded bytes do not hash to the id asked for. */
export class BlobHashMismatchError extends AtomaError {
  override name = "BlobHashMismatchError";
  constructor(id: string, actual: string) {
    super("BLOB_HASH_MISMATCH", `blob ${id} arrived with hash ${actual}`);
  }
}

export class BlobFetchError extends AtomaError {
  override name = "BlobFetchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("BLOB_FETCH_FAILED", message, options);
  }
}

/** The chain under the listener's cursor changed: a reorg deeper than the confirmations setting. */
export class ChainReorgError extends AtomaError {
  override name = "ChainReorgError";
  constructor(message: string) {
    super("CHAIN_REORG", message);
  }
}

/** Another listener moved the same cursor: two processes follow the chain over one database. */
export class CursorMovedError extends AtomaError {
  override name = "CursorMovedError";
  constructor(name: string) {
    super("LISTENER_CURSOR_MOVED", `chain cursor "${name}" was moved by another listener`);
  }
}

/** The chain's JSON-RPC endpoint cannot be reached, or reports another chain than configured. */
export class ChainUnavailableError extends AtomaError {
  override name = "ChainUnavailableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("CHAIN_UNAVAILABLE", message, options);
  }
}

/** A part was used before the node started it, after it stopped, or started twice. */
export class NodeLifecycleError extends AtomaError {
  override name = "NodeLifecycleError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("NODE_LIFECYCLE", message, options);
  }
}

/** The engine's health check failed (the reason is the engine's, safe to show). */
export class EngineUnhealthyError extends AtomaError {
  override name = "EngineUnhealthyError";
  constructor(reason: string, options?: AtomaErrorOptions) {
    super("ENGINE_UNHEALTHY", reason, options);
  }
}
