// Not a benchmark: the gateway in its own process (so its resident memory is its own), started by proxy.ts.
// Reads {network, privateKey, dataDir} as JSON from argv[2]; prints `ready {url, apiKey}`; stops on SIGTERM.
import { privateKeyAccount } from "@atoma/core";
import { parseProxyConfig, startGateway } from "@atoma/proxy";

const { network, privateKey, dataDir, stacksPerModel } = JSON.parse(process.argv[2] ?? "{}");
const config = parseProxyConfig(
  {
    server: { port: 0 },
    database: { dataDir },
    stacks: { units: "10000000", maxPerModel: stacksPerModel, securityLevel: 0 },
  },
  network,
);
const gateway = await startGateway(config, { account: privateKeyAccount(privateKey) });
const { key } = await gateway.keys.create({ name: "bench" });
process.stdout.write(`ready ${JSON.stringify({ url: gateway.url, apiKey: key })}\n`);
process.on("SIGTERM", () => void gateway.stop().then(() => process.exit(0)));
