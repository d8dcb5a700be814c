import { getStack, proveReceiptFraud, StackStatus } from "@atoma/chain";
import { findKeptReceiptFraud } from "@atoma/sdk";
import { type Command, Option } from "commander";
import { formatEther } from "viem";
import { bigintOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, userContext } from "../chain/userChain.js";
import { loadReceipts, receiptsDir, receiptsFile, stackHome } from "../chat/receiptStore.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";

interface ProveFlags {
  network?: string;
  keyFile?: string;
  receipts?: string;
}

/**
 * `atoma stack prove-fraud <id>`: looks through the receipts `atoma chat` kept for the stack for proof that its
 * node billed what it did not serve (running totals that do not add up, a nonce that is not the leaf index,
 * units that are not the answer's usage) and submits it: the node is slashed, the owner refunded.
 */
export function registerStackProveFraud(stack: Command): void {
  stack
    .command("prove-fraud <id>")
    .description(
      "submit proof from the receipts atoma chat kept that the stack's node billed what it did not serve",
    )
    .addOption(
      new Option(
        "--network <file>",
        "JSON with rpcUrl, chainId and contracts, as atoma dev prints after `ready ` (or ATOMA_NETWORK)",
      ),
    )
    .option("--key-file <file>", "the key that sends the proof, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .option("--receipts <dir>", "where atoma chat kept the receipts (or ATOMA_RECEIPTS; ~/.atoma/receipts)")
    .action(async (id: string, flags: ProveFlags) => {
      const stackId = bigintOption("stack id", 1n)(id);
      const network = loadNetwork(flags.network);
      if (!network.contracts.ReceiptFraud)
        throw new CliUsageError("the network file names no ReceiptFraud contract");
      const ctx = userContext(network, loadUserAccount(flags.keyFile));
      const stack = await getStack(ctx, stackId);
      if (stack.status === StackStatus.None) throw new CliUsageError(`there is no stack ${stackId}`);
      const file = receiptsFile(
        receiptsDir(flags.receipts),
        await stackHome(ctx.publicClient, network.contracts.StackManager),
        stackId,
      );
      const receipts = loadReceipts(file);
      if (receipts.length === 0)
        throw new CliUsageError(`no receipts of stack ${stackId} are kept in ${file}`);
      const evidence = findKeptReceiptFraud(receipts, stack.units);
      if (!evidence)
        throw new CliUsageError(
          `the ${receipts.length} receipts kept for stack ${stackId} are consistent: there is nothing to prove`,
        );
      const proven = await proveReceiptFraud(ctx, evidence);
      printJson({
        stackId,
        nodeId: proven.nodeId,
        evidence: evidence.kind,
        refunded: formatEther(proven.refunded),
        tx: proven.hash,
      });
    });
}
