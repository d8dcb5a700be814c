/**
 * One start of the gateway of `restartableGateway.ts` in its own process (the strikes test kills it with SIGKILL):
 * reads {dbDir, node: {url, signer, price}, gatewayKey, options, stackUnits?, previousHolderId?, createKey} as JSON from
 * argv[2]; prints `ready {url, holderId, key?}`, then `nodeError nodeId:code` for each error counted against a node.
 */
import { privateKeyToAccount } from "viem/accounts";
import { startGatewayRun } from "./restartableGateway.js";

const args = JSON.parse(process.argv[2] ?? "{}");
const run = await startGatewayRun(
  { kind: "embedded", dir: args.dbDir },
  privateKeyToAccount(args.gatewayKey),
  { url: args.node.url, signer: { address: args.node.signer }, price: BigInt(args.node.price) },
  args.options,
  { push: (entry: string) => process.stdout.write(`nodeError ${entry}\n`) },
  args.stackUnits === undefined ? undefined : BigInt(args.stackUnits),
  args.previousHolderId,
);
const key = args.createKey ? (await run.keys.create({ name: "killed", budget: "1" })).key : undefined;
process.stdout.write(`ready ${JSON.stringify({ url: run.url, holderId: run.holderId, key })}\n`);
