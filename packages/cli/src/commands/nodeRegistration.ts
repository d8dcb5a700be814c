import {
  ContractRevertError,
  completeExit,
  deregisterNode,
  echelonFingerprint,
  getSubscription,
  getTask,
  modelIdOf,
  NodeNotRegisteredError,
  nodeIdOfSigner,
  registerNode,
  setSubscriptionCollateral,
  subscribe,
  unsubscribe,
  updateSubscription,
  withdrawCollateral,
} from "@atoma/chain";
import {
  checkRegisteredWeights,
  EchelonFingerprintMismatchError,
  fingerprintOfConfig,
  type NodeConfig,
} from "@atoma/node";
import { type Command, Option } from "commander";
import { formatEther, type PrivateKeyAccount } from "viem";
import { bigintOption, tomaOption } from "../amountOptions.js";
import { type OperatorChain, operatorChain } from "../chain/operatorChain.js";
import {
  CliUsageError,
  EchelonNotApprovedError,
  ExitNoticeRunningError,
  isoTime,
  SubscriptionsLeftError,
  TaskModelMismatchError,
  UnknownTaskError,
  WithdrawalTooEarlyError,
} from "../errors.js";
import { loadConfigFile, printJson } from "../nodeConfigFile.js";
import { integerOption, isHttpUrl } from "../options.js";

const UINT64_MAX = (1n << 64n) - 1n;
const UINT128_MAX = (1n << 128n) - 1n;

function configOption(): Option {
  return new Option(
    "-c, --config <file>",
    "node.toml (key file, chain and contracts; ATOMA_NODE_* also apply)",
  );
}

function urlOption(value: string): string {
  if (!isHttpUrl(value)) throw new CliUsageError(`--url must be an http(s) URL, got "${value}"`);
  if (Buffer.byteLength(value) > 256) throw new CliUsageError("--url must be at most 256 bytes");
  return value;
}

/** The URL a node registers with when `--url` is not given: its public URL, else where it listens. */
function defaultUrl(config: NodeConfig): string {
  if (config.node.publicUrl !== undefined) return config.node.publicUrl;
  if (config.node.port === 0)
    throw new CliUsageError("give --url (node.publicUrl is unset and node.port 0 has no fixed address)");
  return `http://${config.node.host}:${config.node.port}`;
}

async function registeredNodeId(chain: OperatorChain, account: PrivateKeyAccount): Promise<bigint> {
  const nodeId = await nodeIdOfSigner(chain.ctx, account.address);
  if (nodeId === 0n) throw new NodeNotRegisteredError(account.address);
  return nodeId;
}

interface RegisterFlags {
  config?: string;
  collateral: bigint;
  echelon: number;
  url?: string;
}

interface SubscribeFlags {
  config?: string;
  task: bigint;
  price: bigint;
  capacity: bigint;
  collateral?: bigint;
}

/**
 * Before staking: the echelon must be approved, and for the numerics this node computes. A node that registered
 * elsewhere would refuse its echelon's verified work (or be slashed for honest answers computed differently).
 */
async function checkEchelon(chain: OperatorChain, config: NodeConfig, echelon: number): Promise<void> {
  const approved = await echelonFingerprint(chain.ctx, echelon);
  if (approved === undefined) throw new EchelonNotApprovedError(echelon);
  const local = (await fingerprintOfConfig(config)).fingerprint;
  if (local.toLowerCase() !== approved.toLowerCase())
    throw new EchelonFingerprintMismatchError(approved, local, `to register in echelon ${echelon}`);
}

/** The contract's custom error as a CLI error that says when, or what to do first; anything else unchanged. */
function explainLeaving(error: unknown): unknown {
  if (!(error instanceof ContractRevertError)) return error;
  const args = (error.args ?? []) as readonly unknown[];
  if (error.errorName === "ExitNoticeRunning")
    return new ExitNoticeRunningError(args[0] as bigint, args[2] as bigint);
  if (error.errorName === "WithdrawalTooEarly")
    return new WithdrawalTooEarlyError(args[0] as bigint, args[1] as bigint);
  if (error.errorName === "SubscriptionsLeft") return new SubscriptionsLeftError(args[0] as bigint);
  return error;
}

/**
 * `atoma node register|subscribe|unsubscribe|deregister|withdraw`: the operator's transactions, sent with the
 * node's key. Leaving takes the registry's exit notice: each step says when the next one is possible.
 */
export function registerNodeRegistration(node: Command): void {
  node
    .command("register")
    .description("stake TOMA collateral and register this node (its key, URL and echelon) on-chain")
    .addOption(configOption())
    .requiredOption(
      "--collateral <TOMA>",
      "TOMA to stake (at least the registry's minimum)",
      tomaOption("--collateral"),
    )
    .requiredOption(
      "--echelon <n>",
      "an approved echelon, whose fingerprint this node's engine computes (`atoma node fingerprint`)",
      integerOption("--echelon", 0, 0xffff_ffff),
    )
    .option(
      "--url <url>",
      "public URL of the node's API (default: node.publicUrl, else http://host:port)",
      urlOption,
    )
    .action(async (flags: RegisterFlags) => {
      const config = loadConfigFile(flags.config);
      const url = flags.url ?? defaultUrl(config);
      const chain = await operatorChain(config, ["AtomaToken", "NodeRegistry"]);
      await checkEchelon(chain, config, flags.echelon);
      const registered = await registerNode(chain.ctx, {
        signer: chain.account,
        url,
        echelon: flags.echelon,
        collateral: flags.collateral,
      });
      printJson({
        nodeId: registered.nodeId,
        address: chain.account.address,
        url,
        echelon: flags.echelon,
        collateral: formatEther(flags.collateral),
        eligibleFromEpoch: registered.eligibleFromEpoch,
        tx: registered.hash,
      });
    });

  node
    .command("subscribe")
    .description(
      "offer a task of this node's model at a price (TOMA per 1M units), after checking the weights root",
    )
    .addOption(configOption())
    .requiredOption("--task <id>", "task id", bigintOption("--task", 1n))
    .requiredOption("--price <TOMA>", "TOMA per 1,000,000 compute units", tomaOption("--price"))
    .requiredOption(
      "--capacity <units>",
      "compute units accepted in unsettled stacks at once",
      bigintOption("--capacity", 1n, UINT64_MAX),
    )
    .option(
      "--collateral <TOMA>",
      "of the node's stake, what this subscription bonds: its unsettled stacks never exceed it (default: the minimum)",
      tomaOption("--collateral"),
    )
    .action(async (flags: SubscribeFlags) => {
      if (flags.price > UINT128_MAX) throw new CliUsageError("--price is too large");
      const config = loadConfigFile(flags.config);
      const chain = await operatorChain(config, ["NodeRegistry", "ModelRegistry", "TaskRegistry"]);
      const nodeId = await registeredNodeId(chain, chain.account);
      const task = await getTask(chain.ctx, flags.task);
      if (/^0x0+$/.test(task.modelId)) throw new UnknownTaskError(flags.task);
      if (task.modelId.toLowerCase() !== modelIdOf(config.model.id).toLowerCase())
        throw new TaskModelMismatchError(flags.task, config.model.id);
      // The node software accepts a subscription only for weights that match the registration.
      await checkRegisteredWeights(chain.ctx, { name: config.model.id, path: config.model.path });
      const params = { taskId: flags.task, nodeId, pricePerMillion: flags.price, capacity: flags.capacity };
      const existing = await getSubscription(chain.ctx, params);
      const sent = existing.active
        ? await updateSubscription(chain.ctx, params)
        : await subscribe(chain.ctx, { ...params, collateral: flags.collateral });
      if (existing.active && flags.collateral !== undefined && flags.collateral !== existing.collateral)
        await setSubscriptionCollateral(chain.ctx, { ...params, collateral: flags.collateral });
      const bonded = (await getSubscription(chain.ctx, params)).collateral;
      printJson({
        nodeId,
        taskId: flags.task,
        price: formatEther(flags.price),
        capacity: flags.capacity,
        collateral: formatEther(bonded),
        updated: existing.active,
        tx: sent.hash,
      });
    });

  node
    .command("unsubscribe")
    .description(
      "stop offering a task: no new stacks at once, but the node keeps checking (attesting, judging disputes) " +
        "with its bond until the exit notice ends; then --complete releases the bond",
    )
    .addOption(configOption())
    .requiredOption("--task <id>", "task id", bigintOption("--task", 1n))
    .option("--complete", "complete an exit whose notice is over (releases the subscription's bond)")
    .action(async (flags: { config?: string; task: bigint; complete?: boolean }) => {
      const config = loadConfigFile(flags.config);
      const chain = await operatorChain(config, ["NodeRegistry", "TaskRegistry"]);
      const nodeId = await registeredNodeId(chain, chain.account);
      if (flags.complete) {
        const sent = await completeExit(chain.ctx, { taskId: flags.task, nodeId }).catch((error: unknown) => {
          throw explainLeaving(error);
        });
        process.stderr.write(`left task ${flags.task}: its bond is released\n`);
        printJson({ nodeId, taskId: flags.task, left: true, tx: sent.hash });
        return;
      }
      const sent = await unsubscribe(chain.ctx, { taskId: flags.task, nodeId });
      process.stderr.write(
        `leaving task ${flags.task}: no new stacks from now; keep the node running, it still checks until ` +
          `${isoTime(sent.exitAt)}, when leaving completes (then: atoma node unsubscribe --task ${flags.task} --complete)\n`,
      );
      printJson({ nodeId, taskId: flags.task, exitAt: sent.exitAt, tx: sent.hash });
    });

  node
    .command("deregister")
    .description(
      "leave the network once every task exit is complete; the collateral is withdrawable after the exit notice",
    )
    .addOption(configOption())
    .action(async (flags: { config?: string }) => {
      const config = loadConfigFile(flags.config);
      const chain = await operatorChain(config, ["NodeRegistry", "TaskRegistry"]);
      const nodeId = await registeredNodeId(chain, chain.account);
      const sent = await deregisterNode(chain.ctx, { nodeId }).catch((error: unknown) => {
        throw explainLeaving(error);
      });
      process.stderr.write(
        `deregistered node ${nodeId}: its collateral is withdrawable from ${isoTime(sent.withdrawableAt)} ` +
          "(later if an obligation is still open; then: atoma node withdraw)\n",
      );
      printJson({ nodeId, withdrawableAt: sent.withdrawableAt, tx: sent.hash });
    });

  node
    .command("withdraw")
    .description("return a deregistered node's collateral to its operator, once the exit notice is over")
    .addOption(configOption())
    .action(async (flags: { config?: string }) => {
      const config = loadConfigFile(flags.config);
      const chain = await operatorChain(config, ["NodeRegistry", "TaskRegistry"]);
      const nodeId = await registeredNodeId(chain, chain.account);
      const sent = await withdrawCollateral(chain.ctx, { nodeId }).catch((error: unknown) => {
        throw explainLeaving(error);
      });
      process.stderr.write(
        `withdrew ${formatEther(sent.amount)} TOMA: node ${nodeId} has left the network\n`,
      );
      printJson({ nodeId, amount: formatEther(sent.amount), tx: sent.hash });
    });
}
