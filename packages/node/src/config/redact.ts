import type { NodeConfig } from "./loadConfig.js";

/**
 * A URL safe to print: the password (and a lone username, which some services use as a token) replaced by `***`,
 * and every query value too (API keys often travel there). Text that is not a URL is hidden entirely.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "***";
  }
  if (parsed.password) parsed.password = "***";
  else if (parsed.username) parsed.username = "***";
  for (const key of [...parsed.searchParams.keys()]) parsed.searchParams.set(key, "***");
  return parsed.toString();
}

/**
 * The configuration as it may be logged: URLs redacted, and the key file's location withheld (whoever reads the
 * logs should not learn where the node's key lies).
 */
export function printableConfig(config: NodeConfig): Record<string, unknown> {
  return {
    ...config,
    chain: { ...config.chain, rpcUrl: redactUrl(config.chain.rpcUrl) },
    node: { ...config.node, keyFile: "***" },
    database:
      config.database.kind === "postgres"
        ? { ...config.database, url: redactUrl(config.database.url) }
        : config.database,
    settlement: {
      ...config.settlement,
      maxFeePerGas: config.settlement.maxFeePerGas?.toString(),
      maxPriorityFeePerGas: config.settlement.maxPriorityFeePerGas?.toString(),
    },
  };
}
