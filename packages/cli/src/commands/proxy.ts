import { ProxyConfigError, parseProxyConfig, startGateway } from "@atoma/proxy";
import { type Command, Option } from "commander";
import { bigintOption, tomaOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount } from "../chain/userChain.js";
import { CliUsageError } from "../errors.js";
import { ServiceStack } from "../lifecycle.js";
import { createCliLogger, type LogFlags, logFormatOption, logLevelOption } from "../logger.js";
import { integerOption } from "../options.js";
import {
  ADMIN_TOKEN_VARIABLE,
  addGatewayDatabaseOptions,
  adminTokenOf,
  DATABASE_URL_VARIABLE,
  type GatewayDatabaseFlags,
} from "../proxy/gatewayDatabase.js";
import { readProxySettingsFile } from "../proxySettingsFile.js";
import { registerProxyKeys } from "./proxyKeys.js";
import { registerProxyUsage } from "./proxyUsage.js";

interface StartFlags extends LogFlags, GatewayDatabaseFlags {
  network?: string;
  keyFile?: string;
  host: string;
  port: number;
  maxPrice: bigint;
  stackUnits: bigint;
  stackDuration: bigint;
  stacksPerModel: number;
  securityLevel?: number;
  idleClose: number;
  buyAhead: boolean;
  defaultMaxTokens: number;
  maxCompletionTokens: number;
  model: string[];
  allowPrivateNodeUrls?: boolean;
  settings?: string;
}

/** The bearer token `GET /metrics` asks for: from the environment only, like the admin token. */
const METRICS_TOKEN_VARIABLE = "ATOMA_PROXY_METRICS_TOKEN";

const UINT64_MAX = (1n << 64n) - 1n;

/** `atoma proxy start` and `atoma proxy keys …`: the OpenAI-compatible gateway. */
export function registerProxy(program: Command): void {
  const proxy = program
    .command("proxy")
    .description("the gateway: any OpenAI client on the network, with API keys, budgets and limits");

  addGatewayDatabaseOptions(proxy.command("start"))
    .description(
      `serve the OpenAI API with API keys; buys stacks with the wallet's key and signs every request; prints ` +
        `\`ready {json}\` (PostgreSQL: ${DATABASE_URL_VARIABLE}; admin API: ${ADMIN_TOKEN_VARIABLE}; ` +
        `/metrics token: ${METRICS_TOKEN_VARIABLE})`,
    )
    .option(
      "--network <file>",
      "JSON with rpcUrl, chainId and contracts, or atoma dev's `ready` line (or ATOMA_NETWORK)",
    )
    .option("--key-file <file>", "the gateway wallet's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free one)", integerOption("--port", 0, 65_535), 8_090)
    .addOption(
      new Option("--max-price <TOMA>", "highest TOMA per 1,000,000 units a stack is bought at")
        .argParser(tomaOption("--max-price"))
        .default(10n ** 19n, "10"),
    )
    .addOption(
      new Option("--stack-units <n>", "compute units of each stack bought")
        .argParser(bigintOption("--stack-units", 1n, UINT64_MAX))
        .default(1_000_000n, "1000000"),
    )
    .addOption(
      new Option("--stack-duration <seconds>", "lifetime of each stack bought")
        .argParser(bigintOption("--stack-duration", 1n, UINT64_MAX))
        .default(3_600n, "3600"),
    )
    .option(
      "--stacks-per-model <n>",
      "stacks held per model at most (one request at a time each)",
      integerOption("--stacks-per-model", 1, 1_000),
      8,
    )
    .option(
      "--security-level <n>",
      "buy only on tasks of this level (default: the highest offered)",
      integerOption("--security-level", 0, 2),
    )
    .option(
      "--idle-close <seconds>",
      "close a stack unused this long on-chain, so its unused units are refunded (0: never)",
      integerOption("--idle-close", 0, 31_536_000),
      1_800,
    )
    .option("--no-buy-ahead", "buy a stack's replacement only when a request needs it, not as it runs low")
    .option(
      "--default-max-tokens <n>",
      "max_tokens set on a request that names none",
      integerOption("--default-max-tokens", 1, 1_000_000),
      1_024,
    )
    .option(
      "--max-completion-tokens <n>",
      "the most tokens a request may ask for",
      integerOption("--max-completion-tokens", 1, 1_000_000),
      8_192,
    )
    .option("--model <name...>", "serve these model names even when no node lists them", [])
    .option(
      "--allow-private-node-urls",
      "serve nodes registered at loopback or private addresses (a local network such as atoma dev's)",
    )
    .option(
      "--settings <file>",
      "a JSON file with the gateway's routing and confidential settings (packages/proxy/README.md lists them)",
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (flags: StartFlags) => {
      const network = loadNetwork(flags.network);
      const account = loadUserAccount(flags.keyFile);
      const config = configOf(flags, network);
      const logger = createCliLogger(flags.logLevel, flags.logFormat);
      const services = new ServiceStack(logger);
      services.stopOnSignals();
      const gateway = await startGateway(config, { account, logger });
      services.add({ name: "gateway", stop: () => gateway.stop() });
      const ready = { url: gateway.url, address: account.address, admin: config.adminToken !== undefined };
      process.stdout.write(`ready ${JSON.stringify(ready)}\n`);
    });

  registerProxyKeys(proxy);
  registerProxyUsage(proxy);
}

function configOf(flags: StartFlags, network: ReturnType<typeof loadNetwork>) {
  const fromFile = flags.settings === undefined ? {} : readProxySettingsFile(flags.settings);
  const url = process.env[DATABASE_URL_VARIABLE]?.trim() || undefined;
  const redisUrl = process.env.ATOMA_PROXY_REDIS_URL?.trim() || undefined;
  const adminToken = adminTokenOf();
  const metricsToken = process.env[METRICS_TOKEN_VARIABLE]?.trim() || undefined;
  try {
    return parseProxyConfig(
      {
        server: { host: flags.host, port: flags.port },
        database: { ...(url && { url }), dataDir: flags.dataDir, schema: flags.dbSchema },
        ...(adminToken && { adminToken }),
        stacks: {
          units: flags.stackUnits.toString(),
          maxPricePerMillion: flags.maxPrice.toString(),
          durationSeconds: flags.stackDuration.toString(),
          maxPerModel: flags.stacksPerModel,
          ...(flags.securityLevel !== undefined && { securityLevel: flags.securityLevel }),
          idleCloseSeconds: flags.idleClose,
          buyAhead: flags.buyAhead,
        },
        limits: { defaultMaxTokens: flags.defaultMaxTokens, maxCompletionTokens: flags.maxCompletionTokens },
        catalog: { models: flags.model, allowPrivateNodeUrls: flags.allowPrivateNodeUrls },
        ...(metricsToken && { metrics: { token: metricsToken } }),
        // From the environment only, like the database's: a URL may carry a password.
        ...(redisUrl && { redis: { url: redisUrl } }),
        ...fromFile,
      },
      network,
    );
  } catch (error) {
    if (error instanceof ProxyConfigError) throw new CliUsageError(error.shortMessage);
    throw error;
  }
}
