/** OpenAI's error types, which OpenAI-compatible clients switch on. */
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "insufficient_quota"
  | "rate_limit_error"
  | "server_error";

/**
 * The codes a node (and a gateway in front of it) sends in OpenAI's `error.code`, each with its HTTP status and
 * error type. The same spelling is the `code` of the error the server threw and of the one a client raises.
 */
export const WIRE_ERRORS = {
  invalid_input: { status: 400, type: "invalid_request_error" },
  invalid_json: { status: 400, type: "invalid_request_error" },
  canonical_json: { status: 400, type: "invalid_request_error" },
  json_too_deep: { status: 400, type: "invalid_request_error" },
  invalid_unicode: { status: 400, type: "invalid_request_error" },
  prompt_too_long: { status: 400, type: "invalid_request_error" },
  invalid_max_units: { status: 400, type: "invalid_request_error" },
  max_units_exceeded: { status: 400, type: "invalid_request_error" },
  invalid_blob_id: { status: 400, type: "invalid_request_error" },
  // Confidential requests (security level 3): a nonce that is not 32 bytes of hex, a sealed body that does not
  // open with this node's key (sealed to another key, another request, or changed).
  invalid_attestation_nonce: { status: 400, type: "invalid_request_error" },
  confidential_envelope_invalid: { status: 400, type: "invalid_request_error" },
  confidential_undecryptable: { status: 400, type: "invalid_request_error" },
  // No confidential compute on this node; a stack below level 3; a node that never posts an attestation record.
  confidential_unsupported: { status: 400, type: "invalid_request_error" },
  confidential_stack_unsupported: { status: 400, type: "invalid_request_error" },
  attestation_not_posted: { status: 400, type: "invalid_request_error" },
  confidential_required: { status: 400, type: "invalid_request_error" },
  invalid_signature: { status: 401, type: "authentication_error" },
  stack_exhausted: { status: 402, type: "insufficient_quota" },
  stack_not_served: { status: 403, type: "permission_error" },
  unknown_stack: { status: 404, type: "not_found_error" },
  unknown_model: { status: 404, type: "not_found_error" },
  blob_not_found: { status: 404, type: "not_found_error" },
  route_not_found: { status: 404, type: "not_found_error" },
  leaf_not_found: { status: 404, type: "not_found_error" },
  nonce_reused: { status: 409, type: "conflict_error" },
  nonce_out_of_order: { status: 409, type: "conflict_error" },
  request_in_flight: { status: 409, type: "conflict_error" },
  stack_closed: { status: 409, type: "conflict_error" },
  stack_not_settled: { status: 409, type: "conflict_error" },
  confidential_replayed: { status: 409, type: "conflict_error" },
  leaf_read_replayed: { status: 409, type: "conflict_error" },
  leaf_denied: { status: 409, type: "conflict_error" },
  stack_expired: { status: 410, type: "invalid_request_error" },
  request_too_large: { status: 413, type: "invalid_request_error" },
  blob_too_large: { status: 413, type: "invalid_request_error" },
  queue_full: { status: 429, type: "rate_limit_error" },
  attestation_rate_limited: { status: 429, type: "rate_limit_error" },
  leaf_reads_crowded: { status: 429, type: "rate_limit_error" },
  shutting_down: { status: 503, type: "server_error" },
  // For now only: no evidence to serve yet (ask again shortly); the on-chain record missing or expired (re-posted).
  attestation_unavailable: { status: 503, type: "server_error" },
  attestation_record_stale: { status: 503, type: "server_error" },
  database_sync_failed: { status: 503, type: "server_error" },
  reservation_lost: { status: 503, type: "server_error" },
  // A gateway's own refusals, spelled as OpenAI spells them where OpenAI has the case.
  invalid_api_key: { status: 401, type: "invalid_request_error" },
  model_not_found: { status: 404, type: "invalid_request_error" },
  request_exceeds_stack: { status: 400, type: "invalid_request_error" },
  key_not_found: { status: 404, type: "not_found_error" },
  insufficient_quota: { status: 429, type: "insufficient_quota" },
  rate_limit_exceeded: { status: 429, type: "rate_limit_error" },
  node_failed: { status: 502, type: "server_error" },
  response_unverified: { status: 502, type: "server_error" },
  stream_unhashable: { status: 502, type: "server_error" },
  answer_too_large: { status: 502, type: "server_error" },
  usage_over_signed: { status: 502, type: "server_error" },
  node_unreachable: { status: 502, type: "server_error" },
  no_node_available: { status: 503, type: "server_error" },
  // A gateway's confidential sessions (the gateway routes sealed requests it cannot read).
  confidential_session_required: { status: 400, type: "invalid_request_error" },
  confidential_session_unknown: { status: 404, type: "not_found_error" },
  confidential_sessions_exceeded: { status: 429, type: "rate_limit_error" },
  confidential_session_failed: { status: 502, type: "server_error" },
} as const satisfies Record<string, { status: number; type: OpenAiErrorType }>;

/** A code that names a listed failure, the withheld internal one, or a bare HTTP status (`http_404`). */
export type WireErrorCode = keyof typeof WIRE_ERRORS | "internal_error" | `http_${number}`;

export function isListedWireError(code: string): code is keyof typeof WIRE_ERRORS {
  return Object.hasOwn(WIRE_ERRORS, code);
}
