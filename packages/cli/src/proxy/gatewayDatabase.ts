import { type GatewayDatabaseConfig, ProxyConfigError, parseDatabaseSettings } from "@atoma/proxy";
import { type Command, Option } from "commander";
import { CliUsageError } from "../errors.js";

/** Where a gateway keeps its state, as `atoma proxy start` and `atoma proxy keys` take it. */
export interface GatewayDatabaseFlags {
  dataDir: string;
  dbSchema: string;
}

/** PostgreSQL's URL comes from the environment only: a flag's value shows in the process list. */
export const DATABASE_URL_VARIABLE = "ATOMA_PROXY_DATABASE_URL";
export const ADMIN_TOKEN_VARIABLE = "ATOMA_PROXY_ADMIN_TOKEN";

export function addGatewayDatabaseOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--data-dir <dir>", "where the gateway keeps its embedded database").default(".atoma/proxy"),
    )
    .addOption(
      new Option(
        "--db-schema <name>",
        `PostgreSQL schema of the gateway's tables (with ${DATABASE_URL_VARIABLE})`,
      ).default("atoma_proxy"),
    );
}

/** The database the flags and `ATOMA_PROXY_DATABASE_URL` name; a bad setting is a usage error. */
export function gatewayDatabaseOf(flags: GatewayDatabaseFlags): GatewayDatabaseConfig {
  const url = process.env[DATABASE_URL_VARIABLE]?.trim() || undefined;
  try {
    return parseDatabaseSettings({ url, dataDir: flags.dataDir, schema: flags.dbSchema });
  } catch (error) {
    if (error instanceof ProxyConfigError)
      throw new CliUsageError(
        error.shortMessage
          .replace("setting database.url", DATABASE_URL_VARIABLE)
          .replace("setting database.schema", "--db-schema"),
      );
    throw error;
  }
}

/** The admin token from the environment, if set; at least 32 characters. */
export function adminTokenOf(): string | undefined {
  const token = process.env[ADMIN_TOKEN_VARIABLE]?.trim() || undefined;
  if (token !== undefined && token.length < 32)
    throw new CliUsageError(`${ADMIN_TOKEN_VARIABLE} must be at least 32 characters`);
  return token;
}
