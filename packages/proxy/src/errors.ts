import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { ProxyErrorCode } from "./errorCodes.js";

/**
 * The gateway's errors. Each has a stable `code`; those a client may see are listed in core's `WIRE_ERRORS`
 * with their HTTP status. Messages never carry keys, prompts or attacker-chosen text.
 */

/** A refusal the client may retry later: the response carries `Retry-After`. */
export abstract class RetryLaterError extends AtomaError<ProxyErrorCode> {
  /** Seconds until a retry can succeed. */
  abstract readonly retryAfterSeconds: number;
  /** False when nothing but an operator can make a retry succeed (`x-should-retry: false`). */
  readonly worthRetrying: boolean = true;
}

/** A configuration value is missing or invalid; the message names it, never its value. */
export class ProxyConfigError extends AtomaError<ProxyErrorCode> {
  override name = "ProxyConfigError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("proxy_config_invalid", message, options);
  }
}

/** The gateway's database cannot be opened or migrated (URLs in the message are redacted). */
export class GatewayDatabaseError extends AtomaError<ProxyErrorCode> {
  override name = "GatewayDatabaseError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("database_unavailable", message, options);
  }
}

/** The gateway (or one of its parts) is used before it started or after it stopped. */
export class GatewayLifecycleError extends AtomaError<ProxyErrorCode> {
  override name = "GatewayLifecycleError";
  constructor(message: string) {
    super("gateway_lifecycle", message);
  }
}

/** The gateway's TOMA could not pay the bond of every challenge an over-claim needs: some wait for a later pass. */
export class BondsShortError extends AtomaError<ProxyErrorCode> {
  override name = "BondsShortError";
  constructor(left: bigint, stackId: bigint) {
    super("challenge_bonds_short", `${left} challenges of stack ${stackId} wait for the wallet's TOMA`);
  }
}

/** Why a key was refused; logged, never told to the client (all four read the same on the wire). */
export type KeyRefusal = "missing" | "malformed" | "unknown" | "revoked" | "expired";

/** No usable API key: missing, malformed, unknown, revoked or expired all look alike to the caller. */
export class InvalidApiKeyError extends AtomaError<ProxyErrorCode> {
  override name = "InvalidApiKeyError";
  readonly reason: KeyRefusal;
  constructor(reason: KeyRefusal) {
    super(
      "invalid_api_key",
      "invalid API key: send `Authorization: Bearer <key>` with a valid, unrevoked key",
    );
    this.reason = reason;
  }
}

/** The key's spend budget cannot cover the request's maximum cost. */
export class InsufficientQuotaError extends RetryLaterError {
  override name = "InsufficientQuotaError";
  readonly retryAfterSeconds: number;
  override readonly worthRetrying: boolean;
  /**
   * @param inFlight whether requests of the key hold reservations that, once settled, may leave room
   */
  constructor(inFlight: boolean) {
    super(
      "insufficient_quota",
      inFlight
        ? "this key's budget is taken by requests in flight: retry when they finish"
        : "this key has spent its budget",
    );
    this.retryAfterSeconds = inFlight ? 1 : 60;
    this.worthRetrying = inFlight;
  }
}

/** The key's requests or tokens per minute are used up for now. */
export class RateLimitExceededError extends RetryLaterError {
  override name = "RateLimitExceededError";
  readonly retryAfterSeconds: number;
  override readonly worthRetrying: boolean;
  constructor(limit: "requests" | "tokens", retryAfterSeconds: number, neverFits = false) {
    super(
      "rate_limit_exceeded",
      neverFits
        ? "this request's maximum tokens exceed the key's tokens-per-minute limit: lower max_tokens"
        : `rate limit reached: this key's ${limit} per minute are used up`,
    );
    this.retryAfterSeconds = retryAfterSeconds;
    this.worthRetrying = !neverFits;
  }
}

/** The model is not served on the network, or this key may not use it (the two read the same). */
export class ModelNotFoundError extends AtomaError<ProxyErrorCode> {
  override name = "ModelNotFoundError";
  constructor() {
    super("model_not_found", "the model does not exist or this key may not use it");
  }
}

/** The model is on the network but no node can take the request now. */
export class NoNodeAvailableError extends RetryLaterError {
  override name = "NoNodeAvailableError";
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 5, options?: AtomaErrorOptions) {
    super("no_node_available", message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A node failed the request in a way that is not the client's fault (a 5xx, a broken stream). */
export class NodeFailedError extends AtomaError<ProxyErrorCode> {
  override name = "NodeFailedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("node_failed", message, options);
  }
}

/** No API key has this id. */
export class KeyNotFoundError extends AtomaError<ProxyErrorCode> {
  override name = "KeyNotFoundError";
  /** @param keyId a well-formed id, or undefined for text that is none (not echoed) */
  constructor(keyId: string | undefined) {
    super(
      "key_not_found",
      keyId === undefined ? "there is no API key with that id" : `there is no API key ${keyId}`,
    );
  }
}

/** The body is not a JSON object (wrong content type, not UTF-8, malformed, or nested too deep). */
export class InvalidJsonError extends AtomaError<ProxyErrorCode> {
  override name = "InvalidJsonError";
  constructor(message: string) {
    super("invalid_json", message);
  }
}

export class RequestTooLargeError extends AtomaError<ProxyErrorCode> {
  override name = "RequestTooLargeError";
  constructor(maxBytes: number) {
    super("request_too_large", `the request body is larger than ${maxBytes} bytes`);
  }
}

/** A node called a stack it had never answered on exhausted: the request may need more units than a stack holds. */
export class RequestExceedsStackError extends AtomaError<ProxyErrorCode> {
  override name = "RequestExceedsStackError";
  constructor(stackUnits: bigint, maxUnits: bigint) {
    super(
      "request_exceeds_stack",
      `the node refused a whole ${stackUnits}-unit stack for this request (at most ${maxUnits} units by the gateway's count): make it smaller, or raise the gateway's unitsPerStack`,
    );
  }
}

export class RouteNotFoundError extends AtomaError<ProxyErrorCode> {
  override name = "RouteNotFoundError";
  constructor() {
    super("route_not_found", "no such route on this gateway");
  }
}

/** The gateway is stopping and takes no new request. */
export class ShuttingDownError extends AtomaError<ProxyErrorCode> {
  override name = "ShuttingDownError";
  constructor() {
    super("shutting_down", "the gateway is shutting down");
  }
}
