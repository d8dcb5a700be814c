import { cancelChoice, chooseFromSet, getNode, getStack, StackStatus } from "@atoma/chain";
import type { Command } from "commander";
import { formatEther } from "viem";
import { bigintOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, userContext } from "../chain/userChain.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";
import { networkOption } from "./networkOption.js";

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * `atoma stack choose <id> --node <nodeId>`: the owner of a stack bought from a set (`stack buy --set <k>
 * --choose-later`), once the set is drawn, binds it to one member, which alone serves it from then on; or, with
 * `--cancel` instead of `--node`, cancels it for a full refund.
 */
export function registerStackChoose(stack: Command): void {
  stack
    .command("choose <id>")
    .description(
      "as the owner of a stack whose set is drawn, bind it to one member of the set, which alone serves it",
    )
    .addOption(networkOption())
    .option("--key-file <file>", "the owner's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .option("--node <id>", "the member of the set to use", bigintOption("--node", 1n, UINT64_MAX))
    .option("--cancel", "cancel the purchase instead of choosing (refunded in full)")
    .action(
      async (id: string, flags: { network?: string; keyFile?: string; node?: bigint; cancel?: boolean }) => {
        if ((flags.node === undefined) === !flags.cancel)
          throw new CliUsageError("give either --node <id> or --cancel");
        const stackId = bigintOption("stack id", 1n)(id);
        const account = loadUserAccount(flags.keyFile);
        const ctx = userContext(loadNetwork(flags.network), account);
        const found = await getStack(ctx, stackId);
        if (found.status !== StackStatus.Choosing)
          throw new CliUsageError(`stack ${stackId} is not waiting for a choice from a drawn set`);
        if (found.owner.toLowerCase() !== account.address.toLowerCase())
          throw new CliUsageError(
            `stack ${stackId} belongs to ${found.owner}, not to this key (${account.address})`,
          );
        if (flags.node === undefined) {
          const cancelled = await cancelChoice(ctx, { stackId });
          printJson({
            stackId,
            cancelled: true,
            refunded: formatEther(cancelled.refunded),
            tx: cancelled.hash,
          });
          return;
        }
        const chosen = await chooseFromSet(ctx, { stackId, nodeId: flags.node });
        const node = await getNode(ctx, chosen.nodeId);
        printJson({
          stackId,
          nodeId: chosen.nodeId,
          nodeUrl: node.url,
          price: formatEther(chosen.pricePerMillion),
          escrow: formatEther(chosen.escrow),
          expiresAt: chosen.expiresAt,
          tx: chosen.hash,
        });
      },
    );
}
