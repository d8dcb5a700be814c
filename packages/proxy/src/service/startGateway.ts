import { resolve } from "node:path";
import { type ChainContext, getNode } from "@atoma/chain";
import { type Logger, silentLogger } from "@atoma/core";
import { readContext, userContext } from "@atoma/sdk";
import { Redis } from "ioredis";
import type { LocalAccount } from "viem";
import { formatEther } from "viem";
import { databaseConfigOf, type ProxyConfig } from "../config/proxyConfig.js";
import { JournalFlusher } from "../db/journalFlusher.js";
import { type GatewayDb, openGatewayDatabase } from "../db/openGatewayDatabase.js";
import { ConfidentialSessions } from "../gateway/confidentialSessions.js";
import { createGatewayApp } from "../gateway/createGatewayApp.js";
import { FreshQuoteAllowance } from "../gateway/freshQuoteAllowance.js";
import type { GatewayParts, GatewayState } from "../gateway/gatewayParts.js";
import { GatewayServer } from "../gateway/gatewayServer.js";
import { RedisSessionSlots } from "../gateway/redisSessionSlots.js";
import type { SessionSlots } from "../gateway/sessionSlots.js";
import type { Upstream } from "../gateway/upstream.js";
import { KeyStore } from "../keys/keyStore.js";
import type { KeyRateLimiter } from "../limits/keyRateLimiter.js";
import { RateLimiter } from "../limits/rateLimiter.js";
import { RedisRateLimiter } from "../limits/redisRateLimiter.js";
import { SealedCharges } from "../limits/sealedCharges.js";
import { SpendLedger } from "../limits/spendLedger.js";
import { codeLabel } from "../metrics/codeLabel.js";
import { createGatewayMetrics, type GatewayMetrics } from "../metrics/gatewayMetrics.js";
import { BackgroundLoop } from "../network/backgroundLoop.js";
import { nodesOf } from "../network/catalog.js";
import { DeniedLeafProver } from "../network/deniedLeafProver.js";
import { FreedLeaves } from "../network/freedLeaves.js";
import { IdleStackCloser } from "../network/idleStackCloser.js";
import { NetworkCatalog } from "../network/networkCatalog.js";
import { NetworkUpstream } from "../network/networkUpstream.js";
import { NodeAddressGuard } from "../network/nodeAddressGuard.js";
import { nodeFetch } from "../network/nodeFetch.js";
import { OverclaimWatcher } from "../network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../network/ownerChallengeBook.js";
import { StackPool } from "../network/stackPool.js";
import { StackRestocker } from "../network/stackRestocker.js";
import { RefundBook } from "../refunds/refundBook.js";
import { RefundWatcher } from "../refunds/refundWatcher.js";
import { NodeHealthBook } from "../routing/nodeHealthBook.js";
import { NodeProber } from "../routing/nodeProber.js";
import { RedisHealthChannel } from "../routing/redisHealthChannel.js";
import { RemovedNodes } from "../routing/removedNodes.js";
import { UsageBook } from "../usage/usageBook.js";

export interface GatewayComponents {
  /** The gateway's wallet: it buys the stacks and signs every request. */
  account: LocalAccount;
  logger?: Logger | undefined;
  /** Unix milliseconds (tests move time). @default Date.now */
  now?: (() => number) | undefined;
  /**
   * Called once the gateway stopped because its embedded database's thread died (review proxy-speed L7): a
   * supervisor must restart it, so its journal is replayed. @default ends the process with exit code 1
   */
  onFatal?: ((error: Error) => void) | undefined;
}

/** A running gateway. */
export interface Gateway {
  url: string;
  keys: KeyStore;
  db: GatewayDb;
  stop(): Promise<void>;
}

/** How often reservations a crash left open are looked for. */
const SWEEP_EVERY_MS = 60_000;
/** How often the stacks held are renewed, and those idle this long handed back for other gateways. */
const HOLD_EVERY_MS = 10_000;
/** How often the nodes other gateways on the database removed are read (Redis, when configured, tells at once). */
const REMOVALS_EVERY_MS = 30_000;

/**
 * Opens the gateway's database, reads the network's models and nodes from the chain, and serves the API. Stop
 * it with `stop()`: requests in flight finish first, then timers stop and the database closes.
 */
export async function startGateway(config: ProxyConfig, components: GatewayComponents): Promise<Gateway> {
  const logger = (components.logger ?? silentLogger).child({ module: "gateway" });
  const now = components.now ?? Date.now;
  // Set once the gateway serves: before that, the start fails on the dead database by itself.
  let lost: ((error: Error) => void) | undefined;
  const database = await openGatewayDatabase(databaseConfigOf(config.database), logger, (error) =>
    lost?.(error),
  );
  let flusher: JournalFlusher | undefined;
  const timers: NodeJS.Timeout[] = [];
  const loops: BackgroundLoop[] = [];
  const redisClients: Redis[] = [];
  const closeRedis = () => Promise.allSettled(redisClients.map((client) => client.quit()));
  try {
    const { db } = database;
    // Each gateway journals in its own data directory (PostgreSQL mode too), replayed here after a crash.
    flusher = await JournalFlusher.open(db, { dir: resolve(config.database.dataDir, "journal"), logger });
    const journal = flusher;
    const catalog = new NetworkCatalog(readContext(config.network), {
      modelNames: config.catalog.models,
      allowPrivateNodeUrls: config.catalog.allowPrivateNodeUrls,
      logger,
    });
    await catalog.refresh();
    const metrics = createGatewayMetrics();
    const chain = userContext(config.network, components.account);
    const pool = new StackPool(
      {
        db,
        chain,
        logger,
        journal,
        onBought: (_, reason) => metrics.stackPurchases.inc({ reason }),
        // Gateways sharing a PostgreSQL share the wallet: its transactions take a lock there.
        sharedWallet: database.kind === "postgres",
      },
      {
        unitsPerStack: config.stacks.units,
        maxPricePerMillion: config.stacks.maxPricePerMillion,
        durationSeconds: config.stacks.durationSeconds,
        maxStacksPerModel: config.stacks.maxPerModel,
        securityLevel: config.stacks.securityLevel,
        now,
      },
    );
    const health = new NodeHealthBook(now);
    // Nodes taken out for good stay out past a restart, and reach the gateways on this database without Redis.
    const removedNodes = new RemovedNodes(db, logger);
    await removedNodes.restore(health);
    removedNodes.keep(health);
    let limiter: KeyRateLimiter = new RateLimiter(now);
    let sessionSlots: SessionSlots | undefined;
    if (config.redis.url !== undefined) {
      const options = { maxRetriesPerRequest: 2, lazyConnect: true };
      const publisher = new Redis(config.redis.url, options);
      const subscriber = new Redis(config.redis.url, options);
      redisClients.push(publisher, subscriber);
      for (const client of redisClients)
        client.on("error", (error: unknown) => logger.warn({ err: error }, "Redis connection error"));
      await Promise.all(redisClients.map((client) => client.connect()));
      limiter = new RedisRateLimiter(publisher, { prefix: config.redis.prefix, now });
      // Confidential sessions' bounds and cool-downs: once across the gateways on this Redis, and past a restart.
      sessionSlots = new RedisSessionSlots(publisher, { prefix: config.redis.prefix });
      await new RedisHealthChannel(publisher, subscriber, health, {
        prefix: config.redis.prefix,
        logger,
      }).start();
    }
    const prober = new NodeProber(health, { guard: new NodeAddressGuard(catalog.allowsPrivateNodeUrls) });
    const sealedCharges = new SealedCharges(db, { logger, now, flush: () => journal.flush() });
    const freedLeaves = new FreedLeaves(db, now);
    const network = new NetworkUpstream(
      {
        catalog,
        pool,
        sealedCharges,
        account: components.account,
        chainId: config.network.chainId,
        stackManager: config.network.contracts.StackManager,
        health,
        // Counts against nodes outlive a restart and are shared by the gateways on one PostgreSQL.
        strikesDb: db,
        freedLeaves,
        onNodeError: (nodeId, code) =>
          metrics.nodeErrors.inc({ node_id: String(nodeId), code: codeLabel(code) }),
        logger,
      },
      {
        cooldownMs: config.routing.cooldownMs,
        firstByteTimeoutMs: config.routing.firstByteTimeoutMs,
        nodesPerRequest: config.routing.nodesPerRequest,
        sendsPerRequest: config.routing.sendsPerRequest,
        stackPurchasesPerKey: config.routing.stackPurchasesPerKey,
        requestTimeoutMs: config.routing.requestTimeoutMs,
        cutLimit: config.routing.cutLimit,
        overbilledCutLimit: config.routing.overbilledCutLimit,
        cutWindowMs: config.routing.cutWindowMs,
        inFlightGraceMs: config.routing.inFlightGraceMs,
        deadlineSeconds: config.routing.deadlineSeconds,
      },
    );
    const upstream: Upstream = network;
    const ledger = new SpendLedger(db, { now, logger, journal });
    const sessions = new ConfidentialSessions(
      {
        upstream: network,
        ledger,
        limiter,
        maxPricePerMillion: () => pool.maxPricePerMillion,
        logger,
        now,
        slots: sessionSlots,
      },
      {
        ttlMs: config.confidential.sessionTtlMs,
        holdUnitsPerMinute: config.confidential.holdUnitsPerMinute,
        maxPerKey: config.confidential.maxSessionsPerKey,
        maxPerKeyPerModel:
          config.confidential.maxSessionsPerKeyPerModel ??
          Math.max(1, Math.floor(config.stacks.maxPerModel / 2)),
        deadlineSlackSeconds: config.confidential.deadlineSlackSeconds,
        unusedCooldownMs: config.confidential.unusedCooldownMs,
      },
    );
    // Issue 14, C-2: the statements level-3 nodes serve are kept, and refunds for their lies claimed.
    const refunds = new RefundWatcher(
      {
        book: new RefundBook(db, now),
        chain,
        wallet: pool,
        guard: new NodeAddressGuard(catalog.allowsPrivateNodeUrls),
        logger,
        now,
        settleHeld: async (stackId, paidUnits) => {
          const last = await pool.lastReceipt(stackId);
          await sealedCharges.settleBySettlement(stackId, paidUnits, last?.fields);
        },
        onClaim: (outcome) => metrics.refundClaims.inc({ outcome }),
        onCredit: (recorded, toKey) => {
          metrics.refunds.inc({ credited_to: "key" }, tomaOf(toKey));
          metrics.refunds.inc({ credited_to: "operator" }, tomaOf(recorded - toKey));
        },
      },
      { retryMs: REFUND_RETRY_MS },
    );
    const parts: GatewayParts = {
      keys: new KeyStore(db, now),
      ledger,
      limiter,
      confidential: {
        sessions,
        upstream: network,
        statements: refunds,
        freshQuotes: new FreshQuoteAllowance(config.confidential.freshQuotesPerKeyPerMinute, now),
      },
      usage: new UsageBook(db, now),
      metrics,
      upstream,
      logger,
      now,
      bounds: config.limits,
    };
    await pool.recover();
    await parts.ledger.recover();
    // The database work waits for a moment without requests in flight (at most a second).
    journal.start(() => parts.ledger.inFlight === 0);
    await parts.ledger.sweep();
    const state: GatewayState = { draining: false };
    const app = createGatewayApp(parts, {
      maxBodyBytes: config.server.maxBodyBytes,
      adminToken: config.adminToken,
      metricsToken: config.metrics.token,
      state,
      buyer: components.account.address,
    });
    const server = new GatewayServer(app, state, config.server, logger);
    await server.start();
    timers.push(
      every(
        config.catalog.refreshMs,
        () => catalog.refresh(),
        logger,
        "reading the network's catalog failed",
      ),
      every(SWEEP_EVERY_MS, () => parts.ledger.sweep(), logger, "sweeping expired reservations failed"),
      every(HOLD_EVERY_MS, () => pool.renewHolds(HOLD_EVERY_MS), logger, "renewing the stacks held failed"),
      every(1_000, () => parts.ledger.maintain(), logger, "giving back idle budget slices failed"),
      every(
        REMOVALS_EVERY_MS,
        () => removedNodes.restore(health),
        logger,
        "reading the nodes other gateways removed failed",
      ),
      every(
        config.routing.probeMs,
        () => prober.probe(catalog.models().flatMap(nodesOf)),
        logger,
        "checking the nodes' health failed",
      ),
    );
    loops.push(
      ...stackLoops(config, {
        pool,
        chain,
        catalog,
        health,
        metrics,
        logger,
        now,
        sealedCharges,
        challenges: new OwnerChallengeBook(db, now),
        freedLeaves,
      }),
      new BackgroundLoop("refunds", config.stacks.checkEveryMs, (signal) => refunds.pass(signal), logger),
    );
    for (const loop of loops) loop.start();
    const gateway: Gateway = {
      url: server.url,
      keys: parts.keys,
      db,
      stop: async () => {
        for (const timer of timers) clearInterval(timer);
        await server.stop();
        // Sessions never used give back their stacks, budgets and allowances.
        await sessions.stop();
        // A stream whose client left after its last chunk still reads its receipt and charges the key: the
        // journal closes only once every request settled (or the shutdown timeout passed).
        if (!(await parts.ledger.settledAll(config.server.shutdownTimeoutMs ?? 10_000)))
          logger.warn({}, "requests still in flight at shutdown: their records go straight to the database");
        await Promise.all(loops.map((loop) => loop.stop()));
        await closeRedis();
        await pool
          .renewHolds(0)
          .catch((error: unknown) => logger.warn({ err: error }, "handing back stacks failed"));
        await parts.ledger
          .maintain(0)
          .catch((error: unknown) => logger.warn({ err: error }, "giving back budget slices failed"));
        await journal.stop();
        await removedNodes.settled();
        await database.close();
      },
    };
    // Every statement fails from now on: a gateway serving on would answer requests it cannot charge, with its
    // health ok. It stops (health 503 at once), keeping the journal on disk for the restart to replay.
    lost = (error) => {
      logger.error(
        { err: error },
        "the embedded database's thread died: the gateway stops (a restart replays its journal)",
      );
      state.draining = true;
      void gateway
        .stop()
        .catch(() => undefined)
        .finally(() => (components.onFatal ?? exitFailed)(error));
    };
    return gateway;
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await Promise.all(loops.map((loop) => loop.stop()));
    await closeRedis();
    await flusher?.stop().catch(() => undefined);
    await database.close();
    throw error;
  }
}

/** The process ends failed: what a supervisor restarts. */
function exitFailed(): never {
  process.exit(1);
}

/** Runs `task` every `ms`, one run at a time, logging (not throwing) its failures. */
function every(ms: number, task: () => Promise<unknown>, logger: Logger, failure: string): NodeJS.Timeout {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch((error: unknown) => logger.warn({ err: error }, failure))
      .finally(() => {
        running = false;
      });
  }, ms);
  timer.unref();
  return timer;
}

/**
 * The stacks' background work, as configured: buying ahead (`StackRestocker`), closing idle stacks
 * (`IdleStackCloser`), and watching settlements (`OverclaimWatcher`: owner challenges, payouts, refunds withdrawn).
 */
function stackLoops(
  config: ProxyConfig,
  parts: {
    pool: StackPool;
    chain: ChainContext;
    catalog: NetworkCatalog;
    health: NodeHealthBook;
    metrics: GatewayMetrics;
    logger: Logger;
    now: () => number;
    sealedCharges: SealedCharges;
    challenges: OwnerChallengeBook;
    freedLeaves: FreedLeaves;
  },
): BackgroundLoop[] {
  const { pool, chain, catalog, health, metrics, logger, now, sealedCharges, challenges, freedLeaves } =
    parts;
  const { stacks } = config;
  const loops: BackgroundLoop[] = [];
  const loop = (name: string, pass: (signal: AbortSignal) => Promise<void>) =>
    loops.push(new BackgroundLoop(name, stacks.checkEveryMs, pass, logger));
  if (stacks.buyAhead) {
    const restocker = new StackRestocker(
      { pool, models: () => catalog.models(), health, now, logger },
      { belowUnits: stacks.buyAheadBelowUnits ?? stacks.units / 4n, withinSeconds: stacks.buyAheadSeconds },
    );
    loop("buy-ahead", (signal) => restocker.pass(signal));
  }
  if (stacks.idleCloseSeconds > 0) {
    const closer = new IdleStackCloser(
      { pool, now, logger, onClosed: () => metrics.stacksClosed.inc() },
      { idleMs: stacks.idleCloseSeconds * 1_000 },
    );
    loop("idle-close", (signal) => closer.pass(signal));
  }
  const watcher = new OverclaimWatcher(
    {
      pool,
      chain,
      challenges,
      logger,
      onChallenge: (kind, outcome) => metrics.ownerChallenges.inc({ kind, outcome }),
      deniedLeaves: deniedLeafProver({ pool, chain, catalog, health, logger, freedLeaves }),
      // A sealed charge held for a leaf never resent is settled at what the stack's settlement paid past the receipts.
      onSettled: async (stack, paidUnits) => {
        const last = await pool.lastReceipt(stack.stackId);
        await sealedCharges.settleBySettlement(stack.stackId, paidUnits, last?.fields);
      },
    },
    {
      watchSeconds: WATCH_SECONDS,
      challenge: stacks.challengeOverclaims,
      maxLogBlocks: BigInt(stacks.maxLogBlocks),
      denialRetryMs: stacks.denialRetryMs,
    },
  );
  loop("settlements", (signal) => watcher.pass(signal));
  return loops;
}

/**
 * The settlement watcher's check of settled roots against nodes' signed denials: proofs read from the node's registered
 * URL (through the node address guard), sent from the stacks' wallet; a node proven leaves rotation.
 */
function deniedLeafProver(parts: {
  pool: StackPool;
  chain: ChainContext;
  catalog: NetworkCatalog;
  health: NodeHealthBook;
  logger: Logger;
  freedLeaves: FreedLeaves;
}): DeniedLeafProver {
  const guard = new NodeAddressGuard(parts.catalog.allowsPrivateNodeUrls);
  return new DeniedLeafProver({
    freed: parts.freedLeaves,
    submit: (evidence) => parts.pool.submitFraud(evidence),
    nodeUrl: async (nodeId) => (await getNode(parts.chain, nodeId)).url,
    fetch: (input, init) =>
      nodeFetch(input as string | URL, {
        redirect: init?.redirect,
        signal: init?.signal ?? undefined,
        dispatcher: guard.dispatcher,
      }),
    logger: parts.logger,
    onProven: (nodeId) => parts.health.remove(nodeId, "denied_leaf_settled"),
  });
}

/** How long a refund claim the chain said "not yet" to (epoch, settlement, dispute) waits. */
const REFUND_RETRY_MS = 60_000;

/** Wei of TOMA as a metric's (floating) TOMA. */
function tomaOf(wei: bigint): number {
  return Number(formatEther(wei));
}

/** Settlements are watched until this long after their stack's expiry (settle window, challenge window, answer). */
const WATCH_SECONDS = 86_400n;
