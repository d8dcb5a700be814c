import type { AdmissionGate } from "../admission/admissionGate.js";
import type { VrfKeyKeeper } from "../attestation/vrfKey.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import type { Turns } from "./turns.js";

/**
 * What the draw, seat and vote duties use: the duty environment (its seat and key also vote on a consensus
 * dispute's committee) and the consensus part's options.
 */
export type ConsensusEnv = DutyEnv<{
  admission: AdmissionGate;
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
  /** The node's VRF key, when the deployment selects dispute committees in private (`DisputeSelection`). */
  vrfKeys: VrfKeyKeeper | undefined;
  /** Milliseconds between the chain's blocks: a selection proof needs two of them left in its window. */
  blockTimeMs: number;
}>;
