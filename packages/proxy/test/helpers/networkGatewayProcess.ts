/**
 * One gateway on the devnet in its own process (the crash test kills it): reads {network, privateKey, dataDir,
 * createKey} as JSON from argv[2]; prints `ready {url, apiKey?}`; stops on SIGTERM.
 */
import { pino } from "pino";
import { privateKeyToAccount } from "viem/accounts";
import { parseProxyConfig } from "../../src/config/proxyConfig.js";
import { startGateway } from "../../src/service/startGateway.js";

const { network, privateKey, dataDir, createKey } = JSON.parse(process.argv[2] ?? "{}");
const config = parseProxyConfig(
  {
    server: { port: 0 },
    database: { dataDir },
    stacks: { units: "10000000", maxPerModel: 4, securityLevel: 0 },
  },
  network,
);
const gateway = await startGateway(config, {
  account: privateKeyToAccount(privateKey),
  logger: pino({ level: "warn" }, pino.destination(2)),
});
const apiKey = createKey ? (await gateway.keys.create({ name: "crash" })).key : undefined;
process.stdout.write(`ready ${JSON.stringify({ url: gateway.url, apiKey })}\n`);
process.on("SIGTERM", () => void gateway.stop().then(() => process.exit(0)));
