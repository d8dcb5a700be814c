import { ContractRevertError } from "@atoma/chain";
import type { Logger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import type { AdmissionGate } from "../admission/admissionGate.js";
import type { CommitteeVoter } from "../committee/committeeVoter.js";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { NodeSeat } from "../service/nodeSeat.js";
import type { Turns } from "./turns.js";

/** What the seat and vote duties use: the node's parts, its chain identity, and the part's options. */
export interface DutyEnv {
  db: NodeDb;
  engine: () => InferenceEngine;
  admission: AdmissionGate;
  chain: NodeSeat;
  /** How this node votes on a consensus dispute's committee (the seat, and its key for the vote salts). */
  voter: CommitteeVoter;
  logger: Logger;
  metrics: NodeMetrics | undefined;
  /** This node's id (the seat's, read when the part was made). */
  nodeId: bigint;
  /** The model id requests are run on (the node's `model.id`). */
  model: string;
  maxOutputTokens: number;
  maxOutputBytes: number;
  /** First block to search for a request's prompt log. */
  fromBlock: bigint;
  /** Who takes the steps anyone may take, and when. */
  turns: Turns;
}

/** The contract's custom error name when `error` is a decoded revert. */
export function revertName(error: unknown): string | undefined {
  return error instanceof ContractRevertError ? error.errorName : undefined;
}
