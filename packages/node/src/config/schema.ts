import { z } from "zod";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address");
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex digits");
/** A URL with one of `protocols`; a missing value keeps zod's own message so it reads "is required". */
const url = (protocol: RegExp, message: string) =>
  z.url({ protocol, error: (issue) => (issue.input === undefined ? undefined : message) });
const port = z.number().int().min(0).max(65_535);
const positiveInt = z.number().int().positive();
/** Whole amounts that may exceed 2^53 (wei): a decimal string or a TOML integer. */
const wei = z
  .union([z.string().regex(/^\d{1,78}$/, "must be a whole number of wei"), z.number().int().nonnegative()])
  .transform((value) => BigInt(value));

/** Chains whose blocks are final at once (anvil, the dev network): the only ones where `confirmations` may be 0. */
export const DEV_CHAIN_IDS: ReadonlySet<number> = new Set([31_337]);

const chainFields = z.strictObject({
  /** JSON-RPC endpoint of the settlement chain (http, https, ws or wss). Required. */
  rpcUrl: url(/^(https?|wss?)$/, "must be an http(s) or ws(s) URL"),
  /** Chain id the RPC endpoint must report. Required. */
  chainId: positiveInt,
  /** Deployed contract addresses by name (e.g. `AtomaToken`). @default {} */
  contracts: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/), address).default({}),
  /**
   * Blocks an event must be buried under before it is handled, and a confidential node's attestation post before it
   * signs the `ServedEvidence` statement. 0 only on a dev chain (`DEV_CHAIN_IDS`, its default there); elsewhere it
   * is required and at least 1, the chain's reorg depth (review challenges MEDIUM-2: with 0, a one-block reorg
   * dropped a post the node had vouched for, and anyone holding the statement had it slashed by `reportUnposted`).
   */
  confirmations: z.number().int().min(0).max(1_000).optional(),
  /** Milliseconds between polls for new blocks. @default 1000 */
  pollingIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
  /**
   * Milliseconds between the chain's blocks: a privately selected attester keeps its proof when fewer than two block
   * times are left in the window (sent later it could land past it, revert and still publish the proof). Set the
   * chain's block time (12000 on Ethereum mainnet); a dev chain may use less. @default 2000
   */
  blockTimeMs: z.number().int().min(1).max(600_000).default(2_000),
  /** Most blocks asked for in one `eth_getLogs` call. @default 2000 */
  maxBlockRange: z.number().int().min(1).max(100_000).default(2_000),
  /** First block the listener reads when it has no cursor yet (the contracts' deployment block). @default 0 */
  startBlock: z.number().int().nonnegative().default(0),
});

export const chainSchema = chainFields.transform((chain, ctx) => {
  const dev = DEV_CHAIN_IDS.has(chain.chainId);
  if (chain.confirmations === undefined && !dev) {
    ctx.addIssue({
      code: "custom",
      path: ["confirmations"],
      message: "is required off a dev chain: set the chain's reorg depth (at least 1)",
    });
    return z.NEVER;
  }
  if (chain.confirmations === 0 && !dev) {
    ctx.addIssue({
      code: "custom",
      path: ["confirmations"],
      message:
        "must be at least 1 off a dev chain: a reorg could drop an attestation post the node vouched for",
    });
    return z.NEVER;
  }
  return { ...chain, confirmations: chain.confirmations ?? 0 };
});

export const nodeSchema = z.strictObject({
  /** File holding the node's hex private key, mode 0600 or stricter. Required. */
  keyFile: z.string().min(1),
  /** URL clients and attesters reach this node at; defaults to `http://{host}:{port}`. */
  publicUrl: url(/^https?$/, "must be an http(s) URL").optional(),
  /** Interface the HTTP server listens on. @default "127.0.0.1" */
  host: z.string().min(1).default("127.0.0.1"),
  /** Port the HTTP server listens on; 0 picks a free one. @default 8080 */
  port: port.default(8080),
  /** Directory for the embedded database and the blob store. @default ".atoma/node" */
  dataDir: z.string().min(1).default(".atoma/node"),
  /** How long shutdown waits for requests in flight before closing their connections. @default 10000 */
  shutdownTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
});

export const databaseSchema = z.strictObject({
  /** PostgreSQL URL (`postgres://user:pass@host:port/db`); when unset the embedded database is used. */
  url: url(/^postgres(ql)?$/, "must be a postgres:// URL").optional(),
  /** Directory of the embedded database; defaults to `{node.dataDir}/db`. */
  dir: z.string().min(1).optional(),
  /**
   * The embedded database's engine: SQLite (`state.db` in the directory), or PGlite for a directory written by a
   * node from before the SQLite store. @default "sqlite"
   */
  engine: z
    .string()
    .pipe(z.enum(["sqlite", "pglite"]))
    .optional(),
  /**
   * SQLite: `full` syncs each commit's write-ahead log before it returns, on the node's thread (an answered
   * request survives a power cut; one disk flush on every answer's path). `normal` syncs it off the thread: a
   * stack's live row before its first receipt (while the engine runs), each leaf just after its answer; a power cut
   * can lose a leaf whose sync had not finished, and the node then closes the stacks that were live (they settle)
   * rather than ever sign a second leaf at an index (docs/node-hot-path.md). @default "normal"
   */
  synchronous: z
    .string()
    .pipe(z.enum(["full", "normal"]))
    .optional(),
  /** PostgreSQL schema holding the node's tables. @default "public" */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lowercase SQL identifier")
    .default("public"),
  /** Connections in the PostgreSQL pool. @default 10 */
  poolSize: z.number().int().min(1).max(1_000).default(10),
});

export const modelSchema = z
  .strictObject({
    /** GGUF file of the served model; with `source`, where the download goes (default: `<dataDir>/models/<owner>/<repo>/<file>`). */
    path: z.string().min(1).optional(),
    /** `hf:<owner>/<repo>/<file>`: downloaded (resumed, checked against `weightsRoot` when set) at the first start. */
    source: z
      .string()
      .regex(/^hf:[\w.-]+\/[\w.-]+\/.+$/, "must look like hf:<owner>/<repo>/<file>")
      .optional(),
    /** Where `source` is fetched from. @default "https://huggingface.co" */
    sourceEndpoint: url(/^https?$/, "must be an http(s) URL").optional(),
    /** Model id clients send in `model`; defaults to the file name without `.gguf`. */
    id: z.string().min(1).max(200).optional(),
    /** Expected weights Merkle root (`atoma model root`); start-up refuses a file that differs. */
    weightsRoot: bytes32.optional(),
    /** Settings passed through to the inference engine unchanged (threads, context size, ...). @default {} */
    engine: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((model) => model.path !== undefined || model.source !== undefined, {
    message: "give path (a GGUF file) or source (hf:<owner>/<repo>/<file>)",
    path: ["path"],
  });

export const limitsSchema = z.strictObject({
  /** Largest request body accepted. @default 1048576 */
  maxBodyBytes: z.number().int().min(1_024).max(1_073_741_824).default(1_048_576),
  /** Most prompt tokens in one request. @default 4096 */
  maxPromptTokens: positiveInt.default(4_096),
  /** Requests allowed to wait for the engine before new ones get 429. @default 64 */
  maxQueueLength: z.number().int().min(0).max(100_000).default(64),
  /** Requests generating at once (streamed or not). @default 4 */
  maxConcurrentStreams: positiveInt.max(10_000).default(4),
  /** Largest blob stored or fetched (inputs transcripts). @default 67108864 */
  maxBlobBytes: positiveInt.default(67_108_864),
  /** Latest a signed request's deadline may lie in the future, in seconds. @default 3600 */
  maxRequestDeadlineSeconds: positiveInt.default(3_600),
  /**
   * A response whose client takes no byte of it for this long, while bytes wait to be sent, loses its
   * connection (a stream's answer is recorded and charged when generation ends, not when it is read). @default 30
   */
  streamIdleTimeoutSeconds: positiveInt.max(3_600).default(30),
  /** Once a streamed answer is complete and recorded, the client has this long to take the rest. @default 120 */
  streamWriteTimeoutSeconds: positiveInt.max(86_400).default(120),
});

export const settlementSchema = z.strictObject({
  /** Settle a stack once fewer than this many units remain. @default 0 */
  minRemainingUnits: z.number().int().nonnegative().default(0),
  /** Settle a stack this many seconds before it expires. @default 300 */
  beforeExpirySeconds: z.number().int().nonnegative().default(300),
  /**
   * Settle a stack early once it has served no request for this many seconds (0: never), which frees the
   * capacity a buyer reserved and does not use. @default 1800
   */
  idleSeconds: z.number().int().nonnegative().default(1_800),
  /**
   * Attestation and committee duties still to commit (fetching, recomputing) worked on at once; committed and
   * revealed ones (chain transactions only) get as many slots of their own. @default 4
   */
  maxConcurrentDuties: z.number().int().min(1).max(64).default(4),
  /** Milliseconds between the settlement worker's scans. @default 5000 */
  pollIntervalMs: z.number().int().min(10).max(3_600_000).default(5_000),
  /** Claim fees automatically once an epoch allows. @default true */
  autoClaim: z.boolean().default(true),
  /** Highest `maxFeePerGas` (wei) the node pays; unset lets the RPC estimate. */
  maxFeePerGas: wei.optional(),
  /** Highest `maxPriorityFeePerGas` (wei); unset lets the RPC estimate. */
  maxPriorityFeePerGas: wei.optional(),
});

export const confidentialSchema = z.strictObject({
  /**
   * Confidential compute (security level 3): "off", "tdx" (Intel TDX quotes through configfs-tsm) or "dev" (the
   * insecure development kind, a key the dev authority certified). @default "off"
   */
  kind: z
    .string()
    .pipe(z.enum(["off", "tdx", "dev"]))
    .default("off"),
  /** tdx: the configfs-tsm report directory. @default "/sys/kernel/config/tsm/report" */
  tsmRoot: z.string().min(1).default("/sys/kernel/config/tsm/report"),
  /** tdx: JSON file of Intel's collateral for this platform (from a PCCS), sent with every quote. */
  collateralFile: z.string().min(1).optional(),
  /**
   * tdx: a PCCS (or Intel PCS) URL the node fetches its collateral from, and fetches again before it ages out of what
   * clients take (a week); a failed refresh keeps the collateral held. With `collateralFile` too, the file's is served
   * until the first refresh.
   */
  pccsUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** dev: JSON file `{ certificatePem, privateKeyPem, measurements }`, a key the dev authority certified. */
  devKeyFile: z.string().min(1).optional(),
  /** Fresh quotes for client nonces per second (429 past it). @default 2 */
  quotesPerSecond: z.number().positive().max(1_000).default(2),
  /** Fresh quotes at once. @default 8 */
  quoteBurst: positiveInt.max(1_000).default(8),
  /** Each source's (IP address, IPv6 /64) share of those per second. @default a quarter of quotesPerSecond */
  quotesPerSecondPerSource: z.number().positive().max(1_000).optional(),
  /** Each source's fresh quotes at once (at most quoteBurst). @default 2 */
  quoteBurstPerSource: positiveInt.max(1_000).default(2),
  /**
   * GPU evidence: a command (executable and arguments, no shell) that prints an NVIDIA attestation service token for
   * the nonce it is given (`{nonce}` in an argument, and `ATOMA_GPU_NONCE`: SHA-256 of the quote's report data, 64 hex
   * digits). Run for every quote; the token travels beside it. A relative executable path is the config's directory's.
   */
  gpuTokenCommand: z.array(z.string().min(1)).min(1).max(64).optional(),
  /** Environment variables the GPU token command is given besides PATH, HOME, LANG, TZ, TMPDIR (its credentials). */
  gpuTokenEnv: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
    .max(64)
    .optional(),
  /** Longest the GPU token command may run, in milliseconds. @default 60000 */
  gpuTokenTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  /** How often the epoch is checked for re-attestation, in milliseconds. @default 15000 */
  epochPollMs: z.number().int().min(10).max(3_600_000).default(15_000),
});

export const metricsSchema = z.strictObject({
  /** Serve Prometheus metrics at `GET /metrics`. @default true */
  enabled: z.boolean().default(true),
});

/** The node's whole configuration as written in `node.toml` (camelCase keys, one table per section). */
export const nodeConfigSchema = z.strictObject({
  chain: chainSchema,
  node: nodeSchema,
  database: databaseSchema.prefault({}),
  model: modelSchema,
  limits: limitsSchema.prefault({}),
  settlement: settlementSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
  confidential: confidentialSchema.prefault({}),
});

export type NodeConfigInput = z.input<typeof nodeConfigSchema>;
export type ParsedNodeConfig = z.output<typeof nodeConfigSchema>;
