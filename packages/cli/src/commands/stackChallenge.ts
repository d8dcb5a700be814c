import {
  atomaContracts,
  type ChainContext,
  ChallengeStatus,
  challengeLeafIndex,
  getChallenge,
  getSettlement,
  getStack,
  resolveChallenge,
  SettlementPhase,
  StackStatus,
  settlementPhaseNames,
} from "@atoma/chain";
import { type Command, Option } from "commander";
import { type Address, formatEther } from "viem";
import { bigintOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, type Network, userContext } from "../chain/userChain.js";
import { loadReceipts, receiptsDir, receiptsFile, stackHome } from "../chat/receiptStore.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";

/** A settlement phase as words: `TimedOut` → "timed out". */
const phaseWords = (phase: number) =>
  settlementPhaseNames[phase]?.replace(/(?<!^)([A-Z])/g, " $1").toLowerCase() ?? String(phase);

const UINT64_MAX = (1n << 64n) - 1n;

export function networkOption(): Option {
  return new Option(
    "--network <file>",
    "JSON with rpcUrl, chainId and contracts, as atoma dev prints after `ready ` (or ATOMA_NETWORK)",
  );
}

/** The network, which must name the contracts owner challenges go through. */
export function challengeNetwork(file: string | undefined): Network {
  const network = loadNetwork(file);
  for (const name of ["ChallengeManager", "SettlementManager"] as const)
    if (!network.contracts[name]) throw new CliUsageError(`the network file names no ${name} contract`);
  return network;
}

export const isoTime = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

async function chainNow(ctx: ChainContext): Promise<bigint> {
  return (await ctx.publicClient.getBlock()).timestamp;
}

/**
 * The owner's stack and its settlement, refused with one line unless `owner` owns it and the settlement may be
 * challenged now (accepted, or disputed by owner challenges, inside its challenge window).
 */
export async function challengeableSettlement(ctx: ChainContext, owner: Address, stackId: bigint) {
  const found = await getStack(ctx, stackId);
  if (found.status === StackStatus.None) throw new CliUsageError(`there is no stack ${stackId}`);
  if (found.owner.toLowerCase() !== owner.toLowerCase())
    throw new CliUsageError(
      `stack ${stackId} belongs to ${found.owner}, not to this key (${owner}): only its owner may challenge it`,
    );
  const settlement = await getSettlement(ctx, stackId);
  if (settlement.phase === SettlementPhase.None)
    throw new CliUsageError(
      `stack ${stackId} is not settled yet: its node settles it once it is closed, used up or expired`,
    );
  // Disputed with a challenge window: by the owner's challenges, beside which the contract takes more (every
  // leaf without a receipt must be challengeable: review fresh HIGH-1).
  const challenged = settlement.phase === SettlementPhase.Disputed && settlement.windowEnds > 0n;
  if (settlement.phase !== SettlementPhase.Accepted && !challenged) {
    const phase = phaseWords(settlement.phase);
    const why =
      settlement.phase === SettlementPhase.Disputed
        ? "an attestation dispute of it is open; wait until it ends"
        : "only an accepted settlement can be challenged";
    throw new CliUsageError(`stack ${stackId}'s settlement is ${phase}: ${why}`);
  }
  if ((await chainNow(ctx)) > settlement.windowEnds)
    throw new CliUsageError(`stack ${stackId}'s challenge window ended at ${isoTime(settlement.windowEnds)}`);
  return { found, settlement };
}

interface ChallengeFlags {
  network?: string;
  keyFile?: string;
  index?: bigint;
  receipts?: string;
}

/**
 * The leaf to challenge when `--index` is not given: the one after the owner's last kept receipt, i.e. the first
 * leaf the owner has no answer for (where a node that pads its stack puts the requests it made up).
 */
function indexAfterReceipts(file: string, stackId: bigint): bigint {
  // A receipt kept as evidence of a lie (a refusal's far "last leaf") is no leaf the owner holds.
  const receipts = loadReceipts(file).filter((r) => !r.shown);
  if (receipts.length === 0)
    throw new CliUsageError(
      `no receipts of stack ${stackId} are kept in ${file}: give --index <k>, the first leaf you did not request`,
    );
  let last = 0n;
  for (const receipt of receipts) if (receipt.fields.leafIndex > last) last = receipt.fields.leafIndex;
  return last + 1n;
}

/**
 * `atoma stack challenge-index <id>` and `atoma stack resolve-challenge <challengeId>`: the owner's index
 * challenge of a settled stack (review H2 of issue 10). The owner says it never signed the request of leaf k; the
 * node must show that leaf under its settled root with the owner's signature on its request before the answer
 * deadline, or anyone may resolve the challenge afterwards, which slashes the node.
 */
export function registerStackChallenge(stack: Command): void {
  stack
    .command("challenge-index <id>")
    .description(
      "as its owner, challenge a settled stack's node to show leaf k with your signature on its request (a bond: the node's if it answers; yours again, and the node slashed, if not)",
    )
    .addOption(networkOption())
    .option("--key-file <file>", "the stack owner's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .addOption(
      new Option(
        "--index <k>",
        "the settled leaf to challenge (default: the one after your last receipt kept by atoma chat); challenge every leaf you hold no receipt for, one command each, while the others are open",
      ).argParser(bigintOption("--index", 0n, UINT64_MAX)),
    )
    .option(
      "--receipts <dir>",
      "where atoma chat kept the receipts, read when --index is left out (or ATOMA_RECEIPTS; ~/.atoma/receipts)",
    )
    .action(async (id: string, flags: ChallengeFlags) => {
      const stackId = bigintOption("stack id", 1n)(id);
      const network = challengeNetwork(flags.network);
      const account = loadUserAccount(flags.keyFile);
      const ctx = userContext(network, account);
      const { found, settlement } = await challengeableSettlement(ctx, account.address, stackId);
      const { challengeManager, token } = atomaContracts(
        network.contracts,
        ctx.publicClient,
        ctx.walletClient,
      );
      const leafIndex =
        flags.index ??
        indexAfterReceipts(
          receiptsFile(
            receiptsDir(flags.receipts),
            await stackHome(ctx.publicClient, network.contracts.StackManager),
            stackId,
          ),
          stackId,
        );
      const count = BigInt(settlement.requestCount);
      if (leafIndex >= count)
        throw new CliUsageError(
          `stack ${stackId} settled ${count} leaves (0 to ${count - 1n}): there is no leaf ${leafIndex} to challenge`,
        );
      const [, , bond] = await challengeManager.read.params();
      const balance = await token.read.balanceOf([account.address]);
      if (balance < bond)
        throw new CliUsageError(
          `the challenge bond is ${formatEther(bond)} TOMA and ${account.address} holds ${formatEther(balance)}`,
        );
      const opened = await challengeLeafIndex(ctx, { stackId, leafIndex });
      printJson({
        stackId,
        leafIndex,
        challengeId: opened.challengeId,
        nodeId: found.nodeId,
        bond: formatEther(opened.bond),
        answerDeadline: opened.answerDeadline,
        answerDeadlineAt: isoTime(opened.answerDeadline),
        tx: opened.hash,
      });
      const networkFlag = flags.network === undefined ? "" : ` --network ${flags.network}`;
      process.stderr.write(
        `node ${found.nodeId} has until ${isoTime(opened.answerDeadline)} to show leaf ${leafIndex} with your signature on its request; after that, unless it did: atoma stack resolve-challenge ${opened.challengeId}${networkFlag}\n`,
      );
    });

  stack
    .command("resolve-challenge <challengeId>")
    .description(
      "uphold a challenge its node did not answer by its deadline (anyone may): the node is slashed, its settlement fails and the owner gets the bond back",
    )
    .addOption(networkOption())
    .option("--key-file <file>", "the sender's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .action(async (id: string, flags: { network?: string; keyFile?: string }) => {
      const challengeId = bigintOption("challenge id", 1n)(id);
      const network = challengeNetwork(flags.network);
      const ctx = userContext(network, loadUserAccount(flags.keyFile));
      const challenge = await getChallenge(ctx, challengeId);
      if (challenge.status === ChallengeStatus.None)
        throw new CliUsageError(`there is no challenge ${challengeId}`);
      if (challenge.status === ChallengeStatus.Dismissed)
        throw new CliUsageError(
          `challenge ${challengeId} was answered by node ${challenge.nodeId}: dismissed, its bond went to the node's operator`,
        );
      if (challenge.status === ChallengeStatus.Upheld)
        throw new CliUsageError(
          `challenge ${challengeId} is already upheld: node ${challenge.nodeId} was slashed`,
        );
      if ((await chainNow(ctx)) <= challenge.answerDeadline)
        throw new CliUsageError(
          `challenge ${challengeId} is open until ${isoTime(challenge.answerDeadline)}: node ${challenge.nodeId} may still answer; resolve it after then`,
        );
      const resolved = await resolveChallenge(ctx, { challengeId });
      printJson({
        challengeId,
        stackId: resolved.stackId,
        nodeId: challenge.nodeId,
        upheld: resolved.upheld,
        slashed: formatEther(resolved.slashed),
        ownerShare: formatEther(resolved.ownerShare),
        bondReturned: formatEther(resolved.bondReturned),
        owner: challenge.owner,
        tx: resolved.hash,
      });
    });
}
