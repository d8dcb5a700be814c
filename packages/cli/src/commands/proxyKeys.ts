import { AdminClient, type KeyAdmin, openKeyStore } from "@atoma/proxy";
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
import { type KeyTermFlags, keyChanges, newKeyTerms } from "../proxy/keyFlags.js";

interface KeysFlags extends GatewayDatabaseFlags, KeyTermFlags {
  adminUrl?: string;
}

/** Runs `work` on the gateway's keys: through a running gateway's admin API, or its database directly. */
async function withKeys<T>(flags: KeysFlags, work: (keys: KeyAdmin) => Promise<T>): Promise<T> {
  if (flags.adminUrl !== undefined) {
    if (!isHttpUrl(flags.adminUrl)) throw new CliUsageError(`--admin-url must be an http(s) URL`);
    const token = adminTokenOf();
    if (token === undefined) throw new CliUsageError(`set ${ADMIN_TOKEN_VARIABLE} to use --admin-url`);
    return work(new AdminClient(flags.adminUrl, token));
  }
  const store = await openKeyStore(gatewayDatabaseOf(flags));
  try {
    return await work(store.keys);
  } finally {
    await store.close();
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function addTermOptions(command: Command): Command {
  return command
    .option("--name <name>", "what the key is for (shown in lists)")
    .option("--budget <TOMA>", "TOMA the key may spend in all")
    .option("--rpm <n>", "requests per minute")
    .option("--tpm <n>", "tokens per minute (each request counts its maximum until it settles)")
    .option("--models <a,b>", "the only models the key may use")
    .option("--expires <when>", "when the key stops working: 2030-01-01T00:00:00Z, or a span such as 30d");
}

function addWhere(command: Command): Command {
  return addGatewayDatabaseOptions(command).option(
    "--admin-url <url>",
    `manage the keys of a running gateway through its admin API (token in ${ADMIN_TOKEN_VARIABLE})`,
  );
}

/** `atoma proxy keys create|list|revoke|update`. */
export function registerProxyKeys(proxy: Command): void {
  const keys = proxy.command("keys").description("API keys of the gateway: stored hashed, shown once");

  addWhere(addTermOptions(keys.command("create")))
    .description("create a key; prints it once, with its terms, as JSON")
    .action(async (flags: KeysFlags) => {
      const terms = newKeyTerms(flags);
      const created = await withKeys(flags, (admin) => admin.create(terms));
      print({ ...created.view, key: created.key });
      process.stderr.write("the key is shown this once: only its hash is kept\n");
    });

  addWhere(keys.command("list"))
    .description("print every key (never the key itself) as a JSON array")
    .action(async (flags: KeysFlags) => {
      print(await withKeys(flags, (admin) => admin.list()));
    });

  addWhere(keys.command("revoke <id>"))
    .description("revoke a key at once and for good")
    .action(async (id: string, flags: KeysFlags) => {
      print(await withKeys(flags, (admin) => admin.revoke(id)));
    });

  addWhere(addTermOptions(keys.command("update <id>")))
    .description("change a key's terms; `none` lifts a limit (--budget none, --models all, --expires never)")
    .action(async (id: string, flags: KeysFlags) => {
      const changes = keyChanges(flags);
      print(await withKeys(flags, (admin) => admin.update(id, changes)));
    });
}
