import { isAbsolute, join, resolve } from "node:path";
import type { Network } from "@atoma/sdk";
import { parseEther } from "viem";
import { z } from "zod";
import type { GatewayDatabaseConfig } from "../db/openGatewayDatabase.js";
import { ProxyConfigError } from "../errors.js";

/** Whole amounts of wei that may exceed 2^53, as decimal text or a safe integer. */
const wei = z
  .union([z.string().regex(/^\d{1,78}$/, "must be a whole number of wei"), z.number().int().nonnegative()])
  .transform((value) => BigInt(value));

/** A stack this close to expiry takes no new request (`StackPool`'s default margin). */
const STACK_EXPIRY_MARGIN_SECONDS = 600n;

export const databaseSchema = z.strictObject({
  /** PostgreSQL URL; without it the embedded database in `{dataDir}/db` is used. */
  url: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" }).optional(),
  /** Where the gateway keeps its embedded database. @default ".atoma/proxy" */
  dataDir: z.string().min(1).default(".atoma/proxy"),
  /** PostgreSQL schema of the gateway's tables (gateways sharing keys and stacks share it). @default "atoma_proxy" */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lowercase SQL identifier")
    .default("atoma_proxy"),
  poolSize: z.number().int().min(1).max(1_000).default(10),
});

export const proxyConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      /** 0 picks a free port. @default 8090 */
      port: z.number().int().min(0).max(65_535).default(8_090),
      shutdownTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
      maxBodyBytes: z.number().int().min(1_024).max(1_073_741_824).default(1_048_576),
    })
    .prefault({}),
  database: databaseSchema.prefault({}),
  /** Bearer token of the admin API; without it the admin API is off. At least 32 characters. */
  adminToken: z.string().min(32, "must be at least 32 characters").max(512).optional(),
  stacks: z
    .strictObject({
      units: wei.default(1_000_000n),
      /** Highest price per million units paid for a stack (wei of TOMA): budgets reserve at it. @default 10 TOMA */
      maxPricePerMillion: wei.default(parseEther("10")),
      durationSeconds: wei.default(3_600n),
      maxPerModel: z.number().int().min(1).max(1_000).default(8),
      /** Buy only on tasks of this level; default: the highest the model offers, falling back to lower ones. */
      securityLevel: z.number().int().min(0).max(2).optional(),
      /** Buy a stack's replacement in the background when it runs low, so requests never wait on it. @default true */
      buyAhead: z.boolean().default(true),
      /** A stack with fewer units left than this is bought again ahead. @default a quarter of `units` */
      buyAheadBelowUnits: wei.optional(),
      /** …and one this many seconds before it stops taking requests (near expiry). @default 300 */
      buyAheadSeconds: wei.default(300n),
      /** A stack unused this long is closed on-chain, so it settles and the rest is refunded; 0: never. @default 1800 */
      idleCloseSeconds: z.number().int().min(0).max(31_536_000).default(1_800),
      /** Challenge, as their owner, settlements that claim more units than the gateway's receipts show. @default true */
      challengeOverclaims: z.boolean().default(true),
      /** The most blocks one `eth_getLogs` call of the settlement watcher asks for (RPCs cap it). @default 2000 */
      maxLogBlocks: z.number().int().min(1).max(1_000_000).default(2_000),
      /** How often the stacks are looked over for these (buying ahead, closing, settlements). @default 5000 */
      checkEveryMs: z.number().int().min(50).max(3_600_000).default(5_000),
      /**
       * How long a settled stack whose node would not serve the proof of a leaf it denied waits before it is asked
       * again (doubled at each miss, up to an hour; a settlement moving on, paid out, is asked at once). At least 500
       * ms: a node stalling its proofs is never asked for one many times a second. @default 30000
       */
      denialRetryMs: z.number().int().min(500).max(3_600_000).default(30_000),
    })
    .superRefine((stacks, ctx) => {
      // Else every stack bought ahead would be near expiry already, and bought again at each check.
      if (stacks.buyAhead && stacks.durationSeconds <= stacks.buyAheadSeconds + STACK_EXPIRY_MARGIN_SECONDS)
        ctx.addIssue({
          code: "custom",
          path: ["buyAheadSeconds"],
          message: `must leave a stack's duration longer than it plus ${STACK_EXPIRY_MARGIN_SECONDS} s (or turn buyAhead off)`,
        });
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** `max_tokens` a chat or completion without one is sent with (its cost needs a bound). @default 1024 */
      defaultMaxTokens: z.number().int().min(1).max(1_000_000).default(1_024),
      /** The most tokens a request may ask for. @default 8192 */
      maxCompletionTokens: z.number().int().min(1).max(1_000_000).default(8_192),
    })
    .prefault({}),
  redis: z
    .strictObject({
      /** Redis URL: rate limits and node health are shared through it by every gateway using it; without it, in memory. */
      url: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }).optional(),
      /** Prefix of the gateway's keys and channel (gateways that share limits share it). @default "atoma:proxy:" */
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9:_-]{1,64}$/)
        .default("atoma:proxy:"),
    })
    .prefault({}),
  routing: z
    .strictObject({
      /** How often each node's /health and /metrics are read (uptime, queue). @default 10000 */
      probeMs: z.number().int().min(100).max(3_600_000).default(10_000),
      /** How long a node that refused, timed out or could not be reached is put aside. @default 30000 */
      cooldownMs: z.number().int().min(0).max(3_600_000).default(30_000),
      /** A node that sends no part of its answer (headers and SSE comments do not count) for this long, first or between parts, is given up on. @default 60000 */
      firstByteTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
      /**
       * The longest one request may take, stream and fallbacks included; keep it under the spend reservations'
       * lifetime (10 minutes). @default 300000
       */
      requestTimeoutMs: z.number().int().min(1_000).max(540_000).default(300_000),
      /** Nodes tried for one request. @default 3 */
      nodesPerRequest: z.number().int().min(1).max(20).default(3),
      /**
       * The most times one request's body is sent to nodes, every node tried and every resend counted (one small
       * request never makes the gateway send it nodes × resends times over). @default 4
       */
      sendsPerRequest: z.number().int().min(1).max(20).default(4),
      /** Stacks bought for one key's requests in a minute; past it they take stacks already held. @default 8 */
      stackPurchasesPerKey: z.number().int().min(1).max(1_000).default(8),
      /**
       * Streams a node may cut (text sent, then the connection broken while it is still at the request) within
       * `cutWindowMs` before it is put aside; twice as many, when they are a fifth of its requests, and it leaves
       * rotation. @default 3
       */
      cutLimit: z.number().int().min(1).max(1_000).default(3),
      /** Cut streams' leaves billed far above what they carried a node may commit within `cutWindowMs`. @default 2 */
      overbilledCutLimit: z.number().int().min(1).max(1_000).default(2),
      /** The window `cutLimit` and `overbilledCutLimit` count over. @default 600000 */
      cutWindowMs: z.number().int().min(1_000).max(604_800_000).default(600_000),
      /**
       * How long past a pending request's first deadline a node may still answer 409 `request_in_flight` for it
       * before its stack is retired and the node struck. @default 60000
       */
      inFlightGraceMs: z.number().int().min(0).max(3_600_000).default(60_000),
      /** How far ahead (seconds) the deadline each request is signed with lies. @default 300 */
      deadlineSeconds: z.number().int().min(10).max(86_400).default(300),
    })
    // A node still at a request the gateway still waits for is never struck as holding it past its deadline.
    .refine((r) => r.deadlineSeconds * 1_000 + r.inFlightGraceMs >= r.requestTimeoutMs, {
      path: ["inFlightGraceMs"],
      message:
        "plus deadlineSeconds must cover requestTimeoutMs (deadlineSeconds × 1000 + inFlightGraceMs ≥ it)",
    })
    .prefault({}),
  confidential: z
    .strictObject({
      /** How long a confidential session waits for its sealed request (its stack and budget held). @default 60000 */
      sessionTtlMs: z.number().int().min(1_000).max(600_000).default(60_000),
      /** Open confidential sessions one key may hold (more: 429 `confidential_sessions_exceeded`). @default 4 */
      maxSessionsPerKey: z.number().int().min(1).max(1_000).default(4),
      /**
       * Open confidential sessions one key may hold on one model (each holds one of its level-3 stacks); more: 429
       * `confidential_sessions_exceeded`. @default half of `stacks.maxPerModel`, at least 1
       */
      maxSessionsPerKeyPerModel: z.number().int().min(1).max(1_000).optional(),
      /**
       * How long a session that ended with nothing charged (expired unused, refused, failed, aborted) still counts
       * against its key's limits, so a key re-opening sessions as they end cannot hold its share of a model's stacks
       * for good (0: not at all). @default `sessionTtlMs`
       */
      unusedCooldownMs: z.number().int().min(0).max(3_600_000).optional(),
      /**
       * The least a session costs its key for holding a level-3 stack: units a minute held (open, before its request),
       * at the highest price, charged when less is served; a key squatting N stacks for T minutes pays N × T × this
       * (0: holding is free). @default 6000
       */
      holdUnitsPerMinute: z.number().int().min(0).max(100_000_000).default(6_000),
      /**
       * Fresh quotes (evidence for a client's nonce) one key may have the gateway ask nodes for, a minute: nodes count
       * them per address, and the gateway's is every user's, so one key must not spend it (then 429
       * `attestation_rate_limited`: the SDK takes the node's epoch evidence the chain's record names). @default 6
       */
      freshQuotesPerKeyPerMinute: z.number().int().min(1).max(10_000).default(6),
      /** Seconds past a session's end its signed deadline allows (a request sent just before the end). @default 60 */
      deadlineSlackSeconds: z.number().int().min(0).max(600).default(60),
    })
    .prefault({}),
  catalog: z
    .strictObject({
      /** How often the chain is read again for tasks, nodes and prices. @default 15000 */
      refreshMs: z.number().int().min(100).max(3_600_000).default(15_000),
      /** Model names served even when no node lists them. @default [] */
      models: z.array(z.string().min(1).max(256)).max(100).default([]),
      /**
       * Serve nodes whose registered URL is a loopback or private address (a local dev network, tests). Off, such
       * nodes are left out: anyone registers any URL on-chain, and the gateway would call into its own network.
       * URLs that are not http(s) are never served. @default true on a local dev chain (chain id 31337), else false
       */
      allowPrivateNodeUrls: z.boolean().optional(),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** Bearer token `GET /metrics` asks for; without it the metrics are open to whoever reaches the port. */
      token: z.string().min(16, "must be at least 16 characters").max(512).optional(),
    })
    .prefault({}),
});

export type ProxyConfigInput = z.input<typeof proxyConfigSchema>;
type ParsedConfig = z.output<typeof proxyConfigSchema>;
export type ProxyConfig = Omit<ParsedConfig, "catalog"> & {
  catalog: ParsedConfig["catalog"] & { allowPrivateNodeUrls: boolean };
  network: Network;
};

/** Anvil's and Hardhat's chain id: a network on this machine, whose nodes are on this machine too. */
const LOCAL_DEV_CHAIN_ID = 31_337;

/** Validates the gateway's settings; `ProxyConfigError` names the first bad one (never its value). */
export function parseProxyConfig(input: ProxyConfigInput, network: Network): ProxyConfig {
  const result = proxyConfigSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join(".") || "(top level)";
    throw new ProxyConfigError(
      issue?.code === "unrecognized_keys"
        ? `unknown setting ${issue.keys.map((key) => [...issue.path, key].join(".")).join(", ")}`
        : `setting ${where} ${issue?.message ?? "is invalid"}`,
    );
  }
  const { catalog } = result.data;
  const allowPrivateNodeUrls = catalog.allowPrivateNodeUrls ?? network.chainId === LOCAL_DEV_CHAIN_ID;
  return { ...result.data, catalog: { ...catalog, allowPrivateNodeUrls }, network };
}

/** Where the gateway's database is: PostgreSQL when a URL is set, else PGlite under the data directory. */
export function databaseConfigOf(
  database: z.output<typeof databaseSchema>,
  baseDir = process.cwd(),
): GatewayDatabaseConfig {
  if (database.url !== undefined)
    return { kind: "postgres", url: database.url, schema: database.schema, poolSize: database.poolSize };
  const dataDir = isAbsolute(database.dataDir) ? database.dataDir : resolve(baseDir, database.dataDir);
  return { kind: "embedded", dir: join(dataDir, "db") };
}

/** `databaseSchema` applied to loose input (the CLI's keys commands), with the same errors. */
export function parseDatabaseSettings(input: z.input<typeof databaseSchema>): GatewayDatabaseConfig {
  const result = databaseSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ProxyConfigError(`setting database.${issue?.path.join(".")} ${issue?.message ?? "is invalid"}`);
  }
  return databaseConfigOf(result.data);
}
