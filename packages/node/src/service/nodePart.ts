import type { Logger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import type { LocalAccount } from "viem";
import type { AdmissionGate } from "../admission/admissionGate.js";
import type { BlobStore } from "../blobs/blobStore.js";
import type { NodeConfig } from "../config/loadConfig.js";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { HealthCheck, RouteInstaller } from "../http/nodeEnv.js";
import type { ChainEventSource } from "../listener/eventSource.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { NodeSeat } from "./nodeSeat.js";

/** What the node hands each part when it is created: the shared, already-started infrastructure. */
export interface NodeContext {
  config: NodeConfig;
  logger: Logger;
  /** The state database (migrated; dangling reservations already released). */
  db: NodeDb;
  /** The node's signing key (responses, settlement and attestation transactions). */
  account: LocalAccount;
  /** The node's one way to the chain: clients, deployment, its node id and the chain's clock. */
  seat: NodeSeat;
  blobs: BlobStore;
  /** Bounds generation by `limits.maxConcurrentStreams` and `limits.maxQueueLength`. */
  admission: AdmissionGate;
  metrics: NodeMetrics | undefined;
  /**
   * The inference engine (the caller's, or the embedded one `model.*` describes, made on first use and started
   * before any part starts). Throws ConfigError when the node has none and `model.path` names no file.
   */
  engine(): InferenceEngine;
}

/**
 * A pluggable part of the node: the stack API, the settlement worker, the attestation worker. Each says what it
 * needs from the shared machinery; `createNode` starts and stops them in order.
 */
export interface NodePart {
  name: string;
  /** Contract events it handles, run by the node's one chain listener inside the cursor's transaction. */
  eventSources?: ChainEventSource[] | undefined;
  /** HTTP routes it serves. */
  routes?: RouteInstaller | undefined;
  /** What `/health` should also check. */
  healthChecks?: HealthCheck[] | undefined;
  /** Runs after the database and the listener start, before HTTP takes requests. */
  start?(): Promise<void>;
  /** Runs after HTTP has drained, before the listener and the database stop. */
  stop?(): Promise<void>;
}

export type NodePartFactory = (context: NodeContext) => NodePart | Promise<NodePart>;
