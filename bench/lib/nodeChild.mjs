// One node in a process of its own, as an operator runs it: the stack API and its own engine over the tiny model,
// from the built packages (plain JavaScript, so no loader thread adds to its memory). Configured by the JSON in
// ATOMA_BENCH_NODE; prints "ready <url>" once it has recorded every stack listed, and stops on SIGTERM.

import { privateKeyAccount } from "@atoma/core";
import { createNode, stackApiPart } from "@atoma/node";
import { devNodeConfig, waitForStack } from "@atoma/node/devnet";

const options = JSON.parse(process.env.ATOMA_BENCH_NODE ?? "{}");
const config = devNodeConfig(
  { rpc: options.rpc, nodeContracts: options.nodeContracts },
  {
    chain: { pollingIntervalMs: 250 },
    node: { dataDir: options.dataDir },
    model: { path: options.modelPath, id: options.modelId },
    limits: options.limits,
  },
);
const node = createNode({ account: privateKeyAccount(options.privateKey), parts: [stackApiPart()] }, config);
await node.start();
for (const stackId of options.stacks) await waitForStack(node, BigInt(stackId));
process.stdout.write(`ready ${node.url}\n`);
process.on("SIGTERM", () => {
  node.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
