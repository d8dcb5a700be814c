/**
 * Every `code` an error of the command line carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type CliErrorCode =
  | "chat_store_unreadable"
  | "cli_usage"
  | "dev_node_unattested"
  | "echelon_not_approved"
  | "exit_notice_running"
  | "subscriptions_left"
  | "task_model_mismatch"
  | "unknown_task"
  | "withdrawal_too_early";
