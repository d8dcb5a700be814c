/**
 * Every `code` an error of the gateway carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type ProxyErrorCode =
  | "attestation_rate_limited"
  | "attestation_unavailable"
  | "challenge_bonds_short"
  | "confidential_envelope_invalid"
  | "confidential_required"
  | "confidential_session_failed"
  | "confidential_session_required"
  | "confidential_session_unknown"
  | "confidential_sessions_exceeded"
  | "confidential_unsupported"
  | "database_unavailable"
  | "gateway_lifecycle"
  | "insufficient_quota"
  | "invalid_api_key"
  | "invalid_json"
  | "key_not_found"
  | "model_not_found"
  | "no_node_available"
  | "node_failed"
  | "proxy_config_invalid"
  | "rate_limit_exceeded"
  | "request_exceeds_stack"
  | "request_too_large"
  | "route_not_found"
  | "shutting_down";
