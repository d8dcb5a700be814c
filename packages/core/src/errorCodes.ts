/**
 * Every `code` an error of shared encodings carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type CoreErrorCode =
  | "canonical_json"
  | "invalid_input"
  | "invalid_signature"
  | "invalid_unicode"
  | "json_too_deep"
  | "merkle_tree"
  | "transcript_nonce_not_index"
  | "transcript_repeated_nonce"
  | "transcript_repeated_request"
  | "transcript_root_mismatch"
  | "transcript_running_total"
  | "transcript_units_over_signed";
