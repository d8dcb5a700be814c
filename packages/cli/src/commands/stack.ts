import { buyStack, drawNode, getNode, getStack, StackStatus } from "@atoma/chain";
import { type Command, Option } from "commander";
import { formatEther } from "viem";
import { bigintOption, tomaOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, readContext, userContext } from "../chain/userChain.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";
import { registerStackChallenge } from "./stackChallenge.js";
import { registerStackProveFraud } from "./stackProveFraud.js";

const UINT64_MAX = (1n << 64n) - 1n;
const STATUS_NAMES = Object.fromEntries(
  Object.entries(StackStatus).map(([name, value]) => [value, name.toLowerCase()]),
);

function networkOption(): Option {
  return new Option(
    "--network <file>",
    "JSON with rpcUrl, chainId and contracts, as atoma dev prints after `ready ` (or ATOMA_NETWORK)",
  );
}

interface BuyFlags {
  network?: string;
  keyFile?: string;
  task: bigint;
  units: bigint;
  maxPrice: bigint;
  duration: bigint;
}

/**
 * `atoma stack buy|draw|status|prove-fraud|challenge-index|resolve-challenge`: prepaid compute units on a task,
 * served by a node the contract draws in a later block than the purchase (so the buyer cannot steer it).
 */
export function registerStack(program: Command): void {
  const stack = program
    .command("stack")
    .description("buy, inspect and challenge stacks (prepaid compute units on a task)");

  stack
    .command("buy")
    .description(
      "buy a stack (the purchase, then the draw of its node in a later block); prints its id and the URL of the node drawn",
    )
    .addOption(networkOption())
    .option("--key-file <file>", "the buyer's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .requiredOption("--task <id>", "task id", bigintOption("--task", 1n))
    .requiredOption(
      "--units <n>",
      "compute units (input plus output tokens)",
      bigintOption("--units", 1n, UINT64_MAX),
    )
    .requiredOption(
      "--max-price <TOMA>",
      "highest TOMA per 1,000,000 units to pay",
      tomaOption("--max-price"),
    )
    .addOption(
      // A bigint default needs its text for --help (commander prints defaults as JSON).
      new Option("--duration <seconds>", "how long the stack may be used")
        .argParser(bigintOption("--duration", 1n, UINT64_MAX))
        .default(3_600n, "3600"),
    )
    .action(async (flags: BuyFlags) => {
      const network = loadNetwork(flags.network);
      const account = loadUserAccount(flags.keyFile);
      const ctx = userContext(network, account);
      const bought = await buyStack(ctx, {
        taskId: flags.task,
        units: flags.units,
        maxPricePerMillion: flags.maxPrice,
        duration: flags.duration,
      });
      const node = await getNode(ctx, bought.nodeId);
      printJson({
        stackId: bought.stackId,
        nodeId: bought.nodeId,
        nodeUrl: node.url,
        owner: account.address,
        taskId: flags.task,
        units: flags.units,
        price: formatEther(bought.pricePerMillion),
        escrow: formatEther(bought.escrow),
        expiresAt: bought.expiresAt,
        tx: bought.requestHash,
        drawTx: bought.hash,
      });
    });

  stack
    .command("draw <id>")
    .description("draw the serving node of a stack bought but not drawn yet (anyone may)")
    .addOption(networkOption())
    .option("--key-file <file>", "the sender's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .action(async (id: string, flags: { network?: string; keyFile?: string }) => {
      const stackId = bigintOption("stack id", 1n)(id);
      const network = loadNetwork(flags.network);
      const ctx = userContext(network, loadUserAccount(flags.keyFile));
      const found = await getStack(ctx, stackId);
      if (found.status !== StackStatus.Pending)
        throw new CliUsageError(
          `stack ${stackId} is not waiting for its draw (status ${STATUS_NAMES[found.status]})`,
        );
      const { hash, blockNumber: _block, gasUsed: _gas, ...outcome } = await drawNode(ctx, { stackId });
      printJson({ stackId, ...outcome, tx: hash });
    });

  stack
    .command("status <id>")
    .description("print a stack's owner, task, serving node, units, price, escrow, expiry and status")
    .addOption(networkOption())
    .action(async (id: string, flags: { network?: string }) => {
      const stackId = bigintOption("stack id", 1n)(id);
      const ctx = readContext(loadNetwork(flags.network));
      const found = await getStack(ctx, stackId);
      if (found.status === StackStatus.None) throw new CliUsageError(`there is no stack ${stackId}`);
      const node = found.nodeId === 0n ? undefined : await getNode(ctx, found.nodeId);
      printJson({
        stackId,
        status: STATUS_NAMES[found.status] ?? "unknown",
        owner: found.owner,
        taskId: found.taskId,
        nodeId: found.nodeId,
        nodeUrl: node?.url ?? null,
        units: found.units,
        price: formatEther(found.pricePerMillion),
        escrow: formatEther(found.escrow),
        expiresAt: found.expiresAt,
        securityLevel: found.securityLevel,
      });
    });

  registerStackProveFraud(stack);
  registerStackChallenge(stack);
}
