import { AdminClient, isKeyId, openUsageBook, type UsageQuery, type UsageRow, usageDays } from "@atoma/proxy";
import type { Command } from "commander";
import { CliUsageError } from "../errors.js";
import { isHttpUrl } from "../options.js";
import {
  ADMIN_TOKEN_VARIABLE,
  addGatewayDatabaseOptions,
  adminTokenOf,
  type GatewayDatabaseFlags,
  gatewayDatabaseOf,
} from "../proxy/gatewayDatabase.js";

interface UsageFlags extends GatewayDatabaseFlags {
  adminUrl?: string;
  key?: string;
  days?: string;
}

/** The usage asked for: through a running gateway's admin API, or its database directly. */
async function usageOf(flags: UsageFlags, query: UsageQuery): Promise<UsageRow[]> {
  if (flags.adminUrl !== undefined) {
    if (!isHttpUrl(flags.adminUrl)) throw new CliUsageError("--admin-url must be an http(s) URL");
    const token = adminTokenOf();
    if (token === undefined) throw new CliUsageError(`set ${ADMIN_TOKEN_VARIABLE} to use --admin-url`);
    return new AdminClient(flags.adminUrl, token).usage(query);
  }
  const book = await openUsageBook(gatewayDatabaseOf(flags));
  try {
    return await book.usage.query(query);
  } finally {
    await book.close();
  }
}

function daysOf(text: string | undefined): number {
  try {
    return usageDays(text);
  } catch {
    throw new CliUsageError("--days must be a whole number from 1 to 366");
  }
}

/** `atoma proxy usage [--key id] [--days N]`: requests, tokens and spend per key, model and UTC day, as JSON. */
export function registerProxyUsage(proxy: Command): void {
  addGatewayDatabaseOptions(proxy.command("usage"))
    .description("print requests, tokens and spend per key, model and UTC day (newest first) as a JSON array")
    .option("--key <id>", "only this key's usage")
    .option("--days <n>", "the last n UTC days, today included (default 30)")
    .option(
      "--admin-url <url>",
      `read a running gateway's usage through its admin API (token in ${ADMIN_TOKEN_VARIABLE})`,
    )
    .action(async (flags: UsageFlags) => {
      if (flags.key !== undefined && !isKeyId(flags.key))
        throw new CliUsageError("--key must be a key id such as key_0123456789abcdef");
      const rows = await usageOf(flags, { keyId: flags.key, days: daysOf(flags.days) });
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    });
}
