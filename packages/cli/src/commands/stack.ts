import {
  type BuyStackResult,
  buyStack,
  buyStackFromNode,
  buyStackFromSet,
  type ChainContext,
  drawNode,
  getNode,
  getStack,
  requestAndDrawSet,
  StackStatus,
} from "@atoma/chain";
import { type Command, Option } from "commander";
import { type Address, formatEther } from "viem";
import { bigintOption, tomaOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, readContext, userContext } from "../chain/userChain.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";
import { networkOption } from "./networkOption.js";
import { membersOf } from "./setMembers.js";
import { registerStackAuditAdopted } from "./stackAuditAdopted.js";
import { registerStackChallenge } from "./stackChallenge.js";
import { registerStackChoose } from "./stackChoose.js";
import { registerStackProveFraud } from "./stackProveFraud.js";

const UINT64_MAX = (1n << 64n) - 1n;
/** `StackManager.MAX_SET_SIZE`: the largest set a purchase may ask to be drawn. */
const MAX_SET_SIZE = 16n;
const STATUS_NAMES = Object.fromEntries(
  Object.entries(StackStatus).map(([name, value]) => [value, name.toLowerCase()]),
);

interface BuyFlags {
  network?: string;
  keyFile?: string;
  task: bigint;
  units: bigint;
  maxPrice: bigint;
  duration: bigint;
  node?: bigint;
  set?: bigint;
  chooseLater?: boolean;
}

/**
 * `atoma stack buy|draw|choose|status|prove-fraud|challenge-index|resolve-challenge|audit-adopted`: prepaid compute units on a
 * task, served by a node the contract draws in a later block than the purchase (so the buyer cannot steer it), by
 * the member of such a drawn set the buyer chooses (`--set`), or by a node the buyer names (`--node`).
 */
export function registerStack(program: Command): void {
  const stack = program
    .command("stack")
    .description("buy, inspect and challenge stacks (prepaid compute units on a task)");

  stack
    .command("buy")
    .description(
      "buy a stack (the purchase, then the draw of its node in a later block; or from a set drawn, or from a node you name); prints its id and the URL of its node",
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
    .addOption(
      new Option(
        "--node <id>",
        "buy from this node, chosen by your own criteria: any node the draw could pick (subscribed, eligible, at most --max-price, with room)",
      )
        .argParser(bigintOption("--node", 1n, UINT64_MAX))
        .conflicts("set"),
    )
    .addOption(
      new Option(
        "--set <k>",
        "draw a set of k nodes (2 to 16) in a later block and bind the stack to its cheapest member",
      ).argParser(bigintOption("--set", 2n, MAX_SET_SIZE)),
    )
    .option(
      "--choose-later",
      "with --set: stop once the set is drawn and print it; bind the stack with `atoma stack choose` (within an hour)",
    )
    .action(async (flags: BuyFlags) => {
      if (flags.chooseLater && flags.set === undefined)
        throw new CliUsageError("--choose-later goes with --set <k>");
      const account = loadUserAccount(flags.keyFile);
      printJson(await buyPicked(userContext(loadNetwork(flags.network), account), account.address, flags));
    });

  stack
    .command("draw <id>")
    .description(
      "draw the serving node of a stack bought but not drawn yet, or the set of one bought from a set (anyone may)",
    )
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
      printJson({
        stackId,
        ...("set" in outcome ? { ...outcome, set: membersOf(outcome.set) } : outcome),
        tx: hash,
      });
    });

  registerStackChoose(stack);

  stack
    .command("status <id>")
    .description(
      "print a stack's owner, task, serving node, units, price, escrow, expiry and status, as JSON",
    )
    .addOption(networkOption())
    .option("--json", "print one JSON object (what it prints anyway: accepted so scripts can ask for it)")
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
  registerStackAuditAdopted(stack);
}

/** Buys as the flags say (a drawn node, a node named by `--node`, or a set by `--set`); what `stack buy` prints. */
async function buyPicked(
  ctx: ChainContext,
  owner: Address,
  flags: BuyFlags,
): Promise<Record<string, unknown>> {
  const terms = {
    taskId: flags.task,
    units: flags.units,
    maxPricePerMillion: flags.maxPrice,
    duration: flags.duration,
  };
  const asked = { owner, taskId: flags.task, units: flags.units };
  if (flags.set !== undefined && flags.chooseLater) {
    const drawn = await requestAndDrawSet(ctx, { ...terms, setSize: Number(flags.set) });
    return {
      stackId: drawn.stackId,
      status: "choosing",
      ...asked,
      set: membersOf(drawn.set),
      tx: drawn.requestHash,
      drawTx: drawn.drawHash,
    };
  }
  let bought: BuyStackResult;
  /** The transactions after the purchase (`tx`), and the set drawn, by the way the node was picked. */
  let after: Record<string, unknown>;
  if (flags.node !== undefined) {
    bought = await buyStackFromNode(ctx, { ...terms, nodeId: flags.node });
    after = {};
  } else if (flags.set !== undefined) {
    const fromSet = await buyStackFromSet(ctx, { ...terms, setSize: Number(flags.set) });
    bought = fromSet;
    after = { drawTx: fromSet.drawHash, chooseTx: fromSet.hash, set: membersOf(fromSet.set) };
  } else {
    bought = await buyStack(ctx, terms);
    after = { drawTx: bought.hash };
  }
  const node = await getNode(ctx, bought.nodeId);
  return {
    stackId: bought.stackId,
    nodeId: bought.nodeId,
    nodeUrl: node.url,
    ...asked,
    price: formatEther(bought.pricePerMillion),
    escrow: formatEther(bought.escrow),
    expiresAt: bought.expiresAt,
    tx: bought.requestHash,
    ...after,
  };
}
