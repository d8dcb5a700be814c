/**
 * Every `code` an error of the inference engines carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type EngineErrorCode =
  | "context_length_exceeded"
  | "engine_busy"
  | "engine_stopped"
  | "fingerprint_unavailable"
  | "invalid_request"
  | "model_download_failed"
  | "model_file_invalid"
  | "model_load_failed"
  | "model_not_found"
  | "probe_model_changed"
  | "request_aborted"
  | "unsupported_parameter"
  | "upstream_error"
  | "weights_root_mismatch";
