/**
 * Every `code` an error of the SDK carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type SdkErrorCode =
  | "answer_too_large"
  | "answer_unverified"
  | "gateway_error"
  | "invalid_argument"
  | "model_tasks_crowded"
  | "network_description_invalid"
  | "no_node_offered"
  | "node_unreachable"
  | "nonce_gap"
  | "receipt_withheld"
  | "receipt_running_total"
  | "receipt_units_mismatch"
  | "receipt_usage_mismatch"
  | "receipt_units_over_signed"
  | "response_unverified"
  | "security_level_unknown"
  | "stack_unusable"
  | "stream_unhashable";

/**
 * Codes of errors that stay in the owner's client (the adopted-leaf audit, a sealed request sealed again): never an
 * answer a gateway relays, so kept apart from `SdkErrorCode`, whose every code a gateway labels.
 */
export type SdkLocalErrorCode =
  | "adopted_audit_interrupted"
  | "challenge_bonds_short"
  | "sealed_nonce_moved"
  | "state_file_busy";
