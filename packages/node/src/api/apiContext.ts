import type { Logger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import type { Address, LocalAccount, TypedDataDomain } from "viem";
import type { Accounting } from "../accounting/accounting.js";
import type { AdmissionGate } from "../admission/admissionGate.js";
import type { AttestationPoster } from "../confidential/attestationPoster.js";
import type { ConfidentialCompute } from "../confidential/confidentialCompute.js";
import type { ReplayGuard } from "../confidential/replayGuard.js";
import type { StackLevelLookup } from "../confidential/stackLevels.js";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { StackOwners } from "./stackOwners.js";

/** The endpoints the stack API serves, as metric labels. */
export type Endpoint = "chat" | "completions" | "embeddings";

/** Who a stack unknown to this node's database belongs to, per the chain (undefined: no such stack). */
export type ChainStackLookup = (stackId: bigint) => Promise<{ nodeId: bigint } | undefined>;

export interface StackApiLimits {
  /** Most prompt tokens one request may carry (`limits.maxPromptTokens`). */
  maxPromptTokens: number;
  /** Furthest ahead a signed request's deadline may lie, in seconds (`limits.maxRequestDeadlineSeconds`). */
  maxDeadlineAheadSeconds: number;
  /** Once a streamed answer is complete, how long the client has to take the rest (`limits.streamWriteTimeoutSeconds`). */
  streamWriteTimeoutMs: number;
}

/** Everything a stack API request handler needs. */
export interface StackApi {
  nodeId: bigint;
  /** The StackManager this node's stacks live in. */
  stackManager: Address;
  /** EIP-712 domain of requests and responses (the StackManager on this chain). */
  domain: TypedDataDomain;
  db: NodeDb;
  accounting: Accounting;
  engine: InferenceEngine;
  admission: AdmissionGate;
  account: LocalAccount;
  lookupChainStack: ChainStackLookup;
  /** Owner and serving node of each stack this node records. */
  owners: StackOwners;
  limits: StackApiLimits;
  logger: Logger;
  metrics: NodeMetrics | undefined;
  /** Unix milliseconds. */
  now: () => number;
  /** A confidential node's keys and evidence; without it sealed requests are refused. */
  confidential?: ConfidentialCompute | undefined;
  /**
   * A stack's security level on-chain: sealed requests go to level-3 stacks only, and a level-3 stack takes no
   * request in clear. Without it (an API built by hand) no stack is checked.
   */
  stackLevel?: StackLevelLookup | undefined;
  /** The sealed requests' replay guard in the node's database (kept across restarts). @default the compute's, in memory */
  replays?: ReplayGuard | undefined;
  /** Keeps the node's attestation record on-chain; a level-3 stack takes sealed requests only while it is current. */
  attestation?: AttestationPoster | undefined;
  /**
   * Takes sealed requests on level-3 stacks with no attestation poster (development and tests only: the chain then
   * holds nothing the node is accountable for). @default false: refused with 503 `attestation_unavailable`
   */
  unattestedSealed?: boolean | undefined;
}
