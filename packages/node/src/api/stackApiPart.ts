import { nodeRegistryAbi } from "@atoma/chain";
import { atomaDomain } from "@atoma/core";
import type { Address } from "viem";
import { Accounting } from "../accounting/accounting.js";
import { AttestationPoster } from "../confidential/attestationPoster.js";
import { attestationRoute } from "../confidential/attestationRoute.js";
import type { ConfidentialCompute } from "../confidential/confidentialCompute.js";
import { confidentialFromConfig } from "../confidential/confidentialConfig.js";
import { startEpochAttester } from "../confidential/epochAttester.js";
import { startPeerDropper } from "../confidential/peerDropper.js";
import { ReplayGuard } from "../confidential/replayGuard.js";
import { stackLevelLookup } from "../confidential/stackLevels.js";
import { ConfigError, EngineUnhealthyError } from "../errors.js";
import type { NodeApp } from "../http/nodeEnv.js";
import type { NodeContext, NodePart, NodePartFactory } from "../service/nodePart.js";
import type { StackApi } from "./apiContext.js";
import { chainStackLookup } from "./chainStackLookup.js";
import { inferenceHandler } from "./handleInference.js";
import { leafReadRoute } from "./leafReadRoute.js";
import { proofRoute } from "./proofRoute.js";
import { stackEvents } from "./stackEvents.js";
import { StackOwners } from "./stackOwners.js";

export interface StackApiOptions {
  /** Unix milliseconds (tests move time). @default Date.now */
  now?: (() => number) | undefined;
  /**
   * Confidential compute (security level 3): serves `GET /v1/attestation`, re-attests each epoch, and opens
   * sealed requests with this object's key. Its signing address must be the node's.
   */
  confidential?:
    | {
        compute: ConfidentialCompute;
        /** The network's epoch. @default the NodeRegistry's `currentEpoch` (the chain's time in days without one) */
        epoch?: (() => Promise<bigint>) | undefined;
        /** How often the epoch is checked (ms). @default 15 000 */
        epochPollMs?: number | undefined;
        /**
         * Posts the attestation record on-chain at each new epoch evidence. @default when `chain.contracts` names
         * an AttestationRegistry
         */
        postRecords?: boolean | undefined;
        /** Waits between failed posts (ms). @default 1 s, 2 s, 5 s, 15 s, then every 30 s */
        postRetryDelaysMs?: readonly number[] | undefined;
        /**
         * Takes sealed requests on level-3 stacks although no record is posted (no AttestationRegistry, or
         * `postRecords: false`): development and tests only. @default false
         */
        unattestedSealed?: boolean | undefined;
      }
    | undefined;
}

function contract(context: NodeContext, name: string): Address {
  const address = context.config.chain.contracts[name];
  if (!address)
    throw new ConfigError(`chain.contracts.${name} (ATOMA_NODE_CHAIN_CONTRACTS) is needed by the stack API`);
  return address as Address;
}

/**
 * Everything the stack API's handlers need, from the node's shared parts and `config`: the node's on-chain id
 * (read from the NodeRegistry by its signing address; `NodeNotRegisteredError` when it has none), the EIP-712
 * domain, accounting, and the limits.
 */
export async function createStackApi(context: NodeContext, options: StackApiOptions = {}): Promise<StackApi> {
  const stackManager = contract(context, "StackManager");
  contract(context, "NodeRegistry"); // where the seat reads the node id
  const nodeId = await context.seat.registeredNodeId();
  const now = options.now ?? Date.now;
  const { limits } = context.config;
  return {
    nodeId,
    stackManager,
    domain: atomaDomain(context.config.chain.chainId, stackManager),
    db: context.db,
    accounting: new Accounting({ db: context.db, metrics: context.metrics }, { nodeId, now }),
    engine: context.engine(),
    admission: context.admission,
    account: context.account,
    owners: new StackOwners(context.db),
    lookupChainStack: chainStackLookup(context.seat.publicClient, stackManager, context.logger),
    limits: {
      maxPromptTokens: limits.maxPromptTokens,
      maxDeadlineAheadSeconds: limits.maxRequestDeadlineSeconds,
      streamWriteTimeoutMs: limits.streamWriteTimeoutSeconds * 1_000,
    },
    logger: context.logger.child({ module: "stack-api" }),
    metrics: context.metrics,
    now,
    // Given in code (tests, embedders), or as `confidential.*` configures it: the one the route and requests share.
    confidential: confidentialOf(context, options),
    replays: new ReplayGuard(context.db),
    stackLevel: stackLevelLookup(context.seat.publicClient, stackManager),
  };
}

/** The network's epoch, as the NodeRegistry counts it (what a record's epoch must equal). */
function chainEpoch(context: NodeContext): () => Promise<bigint> {
  const DAY = 86_400n;
  const registry = context.seat.addresses.NodeRegistry;
  if (!registry) return async () => (await context.seat.now()) / DAY;
  return () =>
    context.seat.publicClient.readContract({
      address: registry,
      abi: nodeRegistryAbi,
      functionName: "currentEpoch",
    });
}

function confidentialOf(context: NodeContext, options: StackApiOptions): ConfidentialCompute | undefined {
  const compute =
    options.confidential?.compute ??
    confidentialFromConfig(context.config, context.account.address, context.logger);
  if (compute && compute.signingAddress.toLowerCase() !== context.account.address.toLowerCase())
    throw new ConfigError("the confidential compute's signing address is not this node's");
  return compute;
}

/**
 * The stack API: `POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings` for requests signed by the
 * owners of stacks this node serves, `GET /v1/stacks/{id}/leaves/{nonce}` for their owners, and the chain events that tell it which stacks those are. Without any
 * `chain.contracts` (a node started against a bare chain) it stays off, like the workers.
 */
export function stackApiPart(options: StackApiOptions = {}): NodePartFactory {
  return async (context): Promise<NodePart> => {
    if (Object.keys(context.config.chain.contracts).length === 0) {
      context.logger.warn({}, "chain.contracts names no deployment: the stack API does not run");
      return { name: "stack-api" };
    }
    const api = await createStackApi(context, options);
    const engine = api.engine;
    const confidential = api.confidential;
    let attester: ReturnType<typeof startEpochAttester> | undefined;
    let dropper: ReturnType<typeof startPeerDropper> | undefined;
    const posts =
      confidential !== undefined &&
      (options.confidential?.postRecords ?? context.seat.addresses.AttestationRegistry !== undefined);
    api.unattestedSealed = options.confidential?.unattestedSealed === true;
    if (confidential && !posts && !api.unattestedSealed)
      api.logger.warn(
        {},
        "confidential compute is on but no attestation record is posted (no chain.contracts.AttestationRegistry): sealed requests on level-3 stacks are refused",
      );
    if (posts)
      api.attestation = new AttestationPoster({
        seat: context.seat,
        nodeId: api.nodeId,
        logger: api.logger,
        retryDelaysMs: options.confidential?.postRetryDelaysMs,
        // The node vouches for a record only as deep as it trusts events (`chain.confirmations`).
        confirmations: context.config.chain.confirmations,
        confirmationPollMs: context.config.chain.pollingIntervalMs,
      });
    return {
      name: "stack-api",
      eventSources: [stackEvents(api.stackManager, api.nodeId)],
      routes: (app: NodeApp) => {
        app.post("/v1/chat/completions", inferenceHandler(api, "chat"));
        app.post("/v1/completions", inferenceHandler(api, "completions"));
        app.post("/v1/embeddings", inferenceHandler(api, "embeddings"));
        proofRoute(app, api.db, {
          chainId: context.config.chain.chainId,
          settlementManager: context.config.chain.contracts.SettlementManager,
        });
        leafReadRoute(app, api);
        attestationRoute(app, confidential);
      },
      start: async () => {
        if (!confidential) return;
        // Hooked before the first evidence: each one (each epoch, each key rotation) is posted, in the background.
        api.attestation?.follow(confidential);
        attester = startEpochAttester(confidential, {
          epoch: options.confidential?.epoch ?? chainEpoch(context),
          pollMs: options.confidential?.epochPollMs ?? context.config.confidential.epochPollMs,
          logger: api.logger,
        });
        await attester.ready;
        // A node that posts its own records (it holds a wallet on the chain) also drops its stale peers.
        if (posts)
          dropper = startPeerDropper(context.seat, {
            nodeId: api.nodeId,
            pollMs: options.confidential?.epochPollMs ?? context.config.confidential.epochPollMs,
            logger: api.logger,
          });
      },
      stop: async () => {
        dropper?.stop();
        attester?.stop();
        api.attestation?.stop();
      },
      healthChecks: [
        {
          name: "engine",
          check: async () => {
            const health = await engine.health();
            if (!health.ok) throw new EngineUnhealthyError(health.reason ?? "the engine is not running");
          },
        },
      ],
    };
  };
}
