import type { SdkErrorCode } from "@atoma/sdk";
import type { ProxyErrorCode } from "../errorCodes.js";

// Exhaustive over the gateway's and the SDK's own codes: adding a code without listing it fails to compile.
const gatewayCodes: Record<ProxyErrorCode | SdkErrorCode, true> = {
  attestation_rate_limited: true,
  attestation_unavailable: true,
  challenge_bonds_short: true,
  confidential_envelope_invalid: true,
  confidential_required: true,
  confidential_session_failed: true,
  confidential_session_required: true,
  confidential_session_unknown: true,
  confidential_sessions_exceeded: true,
  confidential_unsupported: true,
  database_unavailable: true,
  gateway_lifecycle: true,
  insufficient_quota: true,
  invalid_api_key: true,
  invalid_json: true,
  key_not_found: true,
  model_not_found: true,
  no_node_available: true,
  node_failed: true,
  proxy_config_invalid: true,
  rate_limit_exceeded: true,
  request_exceeds_stack: true,
  request_too_large: true,
  route_not_found: true,
  shutting_down: true,
  answer_too_large: true,
  answer_unverified: true,
  gateway_error: true,
  invalid_argument: true,
  model_tasks_crowded: true,
  network_description_invalid: true,
  no_node_offered: true,
  node_unreachable: true,
  nonce_gap: true,
  receipt_withheld: true,
  receipt_running_total: true,
  receipt_units_mismatch: true,
  receipt_usage_mismatch: true,
  receipt_units_over_signed: true,
  response_unverified: true,
  security_level_unknown: true,
  stack_unusable: true,
  stream_unhashable: true,
};

/** What a node answers that a dashboard wants apart; anything else a node says is `other`. */
const nodeCodes = [
  "first_byte_timeout",
  "invalid_request_error",
  "nonce_out_of_order",
  "nonce_reused",
  "prompt_too_long",
  "queue_full",
  "request_in_flight",
  "stack_busy",
  "stack_closed",
  "stack_exhausted",
  "stack_expired",
  "stack_not_served",
  "unknown_model",
  "unknown_stack",
  "engine_unhealthy",
  "units_exceed_reservation",
  "unrecomputable_request",
];

const known = new Set<string>([...Object.keys(gatewayCodes), ...nodeCodes]);

/**
 * An error code as a metric label: a node picks the codes it answers with, and every distinct label is a series
 * kept for good, so only codes from a fixed list become labels.
 */
export function codeLabel(code: string | null | undefined): string {
  return code !== null && code !== undefined && known.has(code) ? code : "other";
}
