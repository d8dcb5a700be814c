import { getNode, NodeStatus } from "@atoma/chain";
import type { Command } from "commander";
import { formatEther } from "viem";
import { bigintOption } from "../amountOptions.js";
import { loadNetwork, readContext } from "../chain/userChain.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";
import { networkOption } from "./networkOption.js";

const STATUS_NAMES = Object.fromEntries(
  Object.entries(NodeStatus).map(([name, value]) => [value, name.toLowerCase()]),
);

/** `atoma node status <id>`: a node's registration on-chain, as lines to read or (`--json`) one JSON object. */
export function registerNodeStatus(node: Command): void {
  node
    .command("status <id>")
    .description(
      "print a node's registration: operator, signer, URL, echelon, collateral, status, reputation",
    )
    .addOption(networkOption())
    .option("--json", "print one JSON object")
    .action(async (id: string, flags: { network?: string; json?: boolean }) => {
      const nodeId = bigintOption("node id", 1n)(id);
      const found = await getNode(readContext(loadNetwork(flags.network)), nodeId);
      if (found.status === NodeStatus.None) throw new CliUsageError(`there is no node ${nodeId}`);
      const status = {
        nodeId,
        status: STATUS_NAMES[found.status] ?? "unknown",
        operator: found.operator,
        signer: found.signer,
        url: found.url,
        echelon: found.echelon,
        collateral: formatEther(found.collateral),
        reputation: found.reputation,
        obligations: found.obligations,
      };
      if (flags.json) {
        printJson(status);
        return;
      }
      const lines = Object.entries(status).map(([key, value]) => `${key.padEnd(12)} ${String(value)}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
