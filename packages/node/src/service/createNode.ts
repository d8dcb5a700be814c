import { type Logger, silentLogger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { sql } from "kysely";
import type { LocalAccount } from "viem";
import { countStacks } from "../accounting/countStacks.js";
import { recoverLiveStacks } from "../accounting/recoverLiveStacks.js";
import { releaseDanglingReservations } from "../accounting/releaseDanglingReservations.js";
import { AdmissionGate } from "../admission/admissionGate.js";
import { BlobStore } from "../blobs/blobStore.js";
import type { NodeConfig } from "../config/loadConfig.js";
import { printableConfig } from "../config/redact.js";
import { openStateDatabase } from "../db/openStateDatabase.js";
import { createConfiguredEngine } from "../engine/nodeEngine.js";
import { NodeLifecycleError } from "../errors.js";
import { createHttpApp } from "../http/createHttpApp.js";
import { HttpServer } from "../http/httpServer.js";
import type { HealthCheck, ModelCatalog, ServerState } from "../http/nodeEnv.js";
import { loadKeyFile } from "../keys/keyFile.js";
import { ChainListener } from "../listener/chainListener.js";
import { redactingLogger } from "../logging/redactingLogger.js";
import { createNodeMetrics, type NodeMetrics } from "../metrics/nodeMetrics.js";
import { requestBodyLimit } from "../settlement/requestBodyLimit.js";
import { assertChain, createNodeChainClient, type NodeChainClient } from "./chainClient.js";
import type { NodeContext, NodePart, NodePartFactory } from "./nodePart.js";
import { openNodeSeat } from "./nodeSeat.js";

export interface NodeComponents {
  logger?: Logger | undefined;
  /** The signing key; read from `node.keyFile` when absent. */
  account?: LocalAccount | undefined;
  /** The chain's RPC client; made from `chain.rpcUrl` when absent. */
  chain?: NodeChainClient | undefined;
  /** What `/v1/models` lists; the configured model when absent. */
  models?: ModelCatalog | undefined;
  /** Metrics to fill; a fresh set when absent and `metrics.enabled`. */
  metrics?: NodeMetrics | undefined;
  /**
   * Where tokens come from. When given, the caller owns it (starts and stops it); when absent and a part needs
   * one, the node makes the embedded engine `model.*` describes and starts and stops it itself.
   */
  engine?: InferenceEngine | undefined;
  /** The stack API, settlement and attestation workers. @default [] */
  parts?: NodePartFactory[] | undefined;
}

export interface AtomaNode {
  /** Where clients reach it: `node.publicUrl`, or the address it listens on. Known after `start()`. */
  readonly url: string;
  /** The shared infrastructure, after `start()`. */
  readonly context: NodeContext;
  start(): Promise<void>;
  /** Stops in reverse order of starting; safe to call more than once, or after a failed start. */
  stop(): Promise<void>;
}

/**
 * Composes the execution node. `start()` brings the parts up in dependency order — key, chain check, the node's
 * chain seat (its node id read once), state database (migrations, then release of reservations a crash left),
 * blob store, the pluggable parts, the chain listener with their event handlers, the parts' workers, and last the
 * HTTP server — and `stop()` takes them down in reverse, so no request arrives before its dependencies are ready
 * or after they are gone.
 */
export function createNode(components: NodeComponents, config: NodeConfig): AtomaNode {
  // Every part logs through this one: errors in log fields lose whatever they quote (prompts, answers, secrets).
  const partsLogger = redactingLogger(components.logger ?? silentLogger);
  // The node's own lines; each part binds its own `module` to `partsLogger` (binding it twice repeats the key).
  const logger = partsLogger.child({ module: "node" });
  const stoppers: { name: string; stop: () => Promise<void> }[] = [];
  let context: NodeContext | undefined;
  let server: HttpServer | undefined;
  let stopping: Promise<void> | undefined;

  async function stopAll(): Promise<void> {
    let first: unknown;
    for (const { name, stop } of stoppers.splice(0).reverse()) {
      try {
        await stop();
        logger.debug({ part: name }, "stopped");
      } catch (error) {
        first ??= error;
        logger.error({ part: name, err: error }, "stop failed");
      }
    }
    if (first !== undefined) throw first;
  }

  async function start(): Promise<void> {
    logger.debug({ config: printableConfig(config) }, "starting node");
    const account = components.account ?? loadKeyFile(config.node.keyFile);
    const chain = components.chain ?? createNodeChainClient(config.chain);
    await assertChain(chain, config.chain.rpcUrl, config.chain.chainId);
    const seat = await openNodeSeat(config, account, chain);

    const state = await openStateDatabase(config.database, { logger: partsLogger });
    stoppers.push({ name: "database", stop: () => state.close() });
    const closed = await recoverLiveStacks(state);
    if (state.mayHaveLostCommits)
      logger.warn(
        { stacks: closed.map(String) },
        "the machine went down under the previous run: the stacks it was serving then are closed and settle",
      );
    const released = await releaseDanglingReservations(state.db);
    if (released.reservations > 0)
      logger.warn(
        { ...released, units: released.units.toString() },
        "released reservations a crash left behind",
      );
    state.markRunning();

    const blobs = new BlobStore(
      { logger: partsLogger },
      { dir: config.blobs.dir, maxBytes: config.limits.maxBlobBytes },
    );
    await blobs.start();
    stoppers.push({ name: "blobs", stop: () => blobs.stop() });

    const metrics = components.metrics ?? (config.metrics.enabled ? createNodeMetrics() : undefined);
    metrics?.countStacksWith(() => countStacks(state.db));
    const admission = new AdmissionGate(
      { metrics },
      { maxConcurrent: config.limits.maxConcurrentStreams, maxQueue: config.limits.maxQueueLength },
    );
    let ownEngine: InferenceEngine | undefined;
    const engine = (): InferenceEngine => {
      if (components.engine) return components.engine;
      ownEngine ??= createConfiguredEngine(config, partsLogger);
      return ownEngine;
    };
    context = {
      config,
      logger: partsLogger,
      db: state.db,
      account,
      seat,
      blobs,
      admission,
      metrics,
      engine,
    };

    const parts: NodePart[] = [];
    for (const factory of components.parts ?? []) parts.push(await factory(context));
    if (ownEngine) {
      const owned = ownEngine;
      await owned.start();
      stoppers.push({ name: "engine", stop: () => owned.stop() });
    }

    const sources = parts.flatMap((part) => part.eventSources ?? []);
    if (sources.length > 0) {
      const listener = new ChainListener(
        { db: state.db, client: chain, logger: partsLogger, metrics },
        {
          sources,
          confirmations: config.chain.confirmations,
          pollingIntervalMs: config.chain.pollingIntervalMs,
          maxBlockRange: config.chain.maxBlockRange,
          startBlock: BigInt(config.chain.startBlock),
        },
      );
      await listener.start();
      stoppers.push({ name: "chain-listener", stop: () => listener.stop() });
    }

    for (const part of parts) {
      await part.start?.();
      if (part.stop) stoppers.push({ name: part.name, stop: () => part.stop!() });
    }

    const serverState: ServerState = { draining: false };
    const healthChecks: HealthCheck[] = [
      { name: "database", check: async () => void (await sql`select 1`.execute(state.db)) },
      { name: "chain", check: async () => void (await chain.getBlockNumber({ cacheTime: 0 })) },
      ...parts.flatMap((part) => part.healthChecks ?? []),
    ];
    const startedAt = Math.floor(Date.now() / 1000);
    const models = components.models ?? {
      listModels: () => [{ id: config.model.id, created: startedAt, ownedBy: account.address }],
    };
    const app = createHttpApp(
      { blobs, models, logger: partsLogger, metrics, healthChecks, state: serverState },
      {
        maxBodyBytes: await requestBodyLimit(config, seat),
        routes: parts.flatMap((part) => part.routes ?? []),
      },
    );
    server = new HttpServer(
      { app, state: serverState, logger: partsLogger },
      {
        host: config.node.host,
        port: config.node.port,
        shutdownTimeoutMs: config.node.shutdownTimeoutMs,
        idleTimeoutMs: config.limits.streamIdleTimeoutSeconds * 1_000,
      },
    );
    await server.start();
    const http = server;
    stoppers.push({ name: "http", stop: () => http.stop() });
    logger.info({ url: node.url, address: account.address, parts: parts.map((p) => p.name) }, "node started");
  }

  const node: AtomaNode = {
    get url() {
      if (!server) throw new NodeLifecycleError("the node is not started");
      return config.node.publicUrl ?? server.url;
    },
    get context() {
      if (!context) throw new NodeLifecycleError("the node is not started");
      return context;
    },
    async start() {
      if (stoppers.length > 0) throw new NodeLifecycleError("the node is already started");
      stopping = undefined;
      try {
        await start();
      } catch (error) {
        logger.error({ err: error }, "start failed; stopping what started");
        await stopAll().catch(() => {});
        throw error;
      }
    },
    stop() {
      stopping ??= stopAll().finally(() => {
        server = undefined;
        context = undefined;
        logger.info({}, "node stopped");
      });
      return stopping;
    },
  };
  return node;
}
