import type { Logger } from "@atoma/core";
import { type GatewayDatabaseConfig, openGatewayDatabase } from "../db/openGatewayDatabase.js";
import { KeyStore } from "../keys/keyStore.js";
import { UsageBook } from "../usage/usageBook.js";

/** The keys in a gateway's database, opened directly (the gateway must not hold the embedded one). */
export async function openKeyStore(
  database: GatewayDatabaseConfig,
  logger?: Logger | undefined,
): Promise<{ keys: KeyStore; close(): Promise<void> }> {
  const opened = await openGatewayDatabase(database, logger);
  return { keys: new KeyStore(opened.db), close: () => opened.close() };
}

/** The usage in a gateway's database, opened directly (`atoma proxy usage`). */
export async function openUsageBook(
  database: GatewayDatabaseConfig,
  logger?: Logger | undefined,
): Promise<{ usage: UsageBook; close(): Promise<void> }> {
  const opened = await openGatewayDatabase(database, logger);
  return { usage: new UsageBook(opened.db), close: () => opened.close() };
}
