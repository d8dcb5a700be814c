/**
 * Every `code` an error of the chain client carries: lowercase snake case, spelled the same in logs, on the wire
 * (OpenAI's `error.code`) and in the CLI.
 */
export type ChainErrorCode =
  | "anvil_start_failed"
  | "chosen_node_cannot_serve"
  | "contract_reverted"
  | "deployment_failed"
  | "event_not_found"
  | "evidence_too_large"
  | "missing_event"
  | "node_not_registered"
  | "signer_proof_missing"
  | "stack_cancelled"
  | "too_few_for_committee"
  | "transaction_failed"
  | "unexpected_outcome"
  | "vrf_not_deployed";
