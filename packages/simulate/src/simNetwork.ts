import {
  type Anvil,
  type AtomaPublicClient,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  createTask,
  type Deployment,
  deployContracts,
  devAccounts,
  ensureAllowance,
  getNode,
  minSubscriptionCollateral,
  modelIdOf,
  registerModel,
  registerNode,
  SecurityLevel,
  setSubscriptionCollateral,
  startAnvil,
  subscribe,
  TaskRole,
  unsubscribe,
} from "@atoma/chain";
import { type Hex, keccak256, maxUint256, parseEther, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { seededPrivateKey } from "./random.js";

/** The one echelon of the simulated nodes. */
const SIM_ECHELON = 1;

/** Units in every simulated stack: prices are per million, so the price per million is the stack's fee. */
export const STACK_UNITS = 1_000_000n;

/** One registered node of the simulation; `slot` stays when a slashed cheater is replaced by a fresh one. */
export interface SimNode {
  slot: number;
  cheater: boolean;
  nodeId: bigint;
  ctx: ChainContext;
}

export interface SimNetworkOptions {
  seed: number;
  /** Each node's collateral, TOMA wei (also the registry's minimum). */
  collateral: bigint;
  /** What the serving node is paid for a stack, TOMA wei. */
  stackFee: bigint;
  /** Stack buyers, one stack each per round. */
  buyers: number;
}

/** A fresh anvil with the Atoma contracts deployed, a model without owner fee, funded buyers, and node helpers. */
export interface SimNetwork {
  anvil: Anvil;
  deployment: Deployment;
  admin: ChainContext;
  buyers: ChainContext[];
  advance(seconds: number): Promise<void>;
  /** Creates a task at replication rate `p` (p = 0: no verification) and returns its id. */
  createTaskAt(p: number, attesters: number, sampleSize: number): Promise<bigint>;
  /** Registers (and funds) a node for `slot`, subscribed to `taskId`; `generation` counts its replacements. */
  addNode(slot: number, cheater: boolean, generation: number, taskId: bigint | undefined): Promise<SimNode>;
  subscribeNode(node: SimNode, taskId: bigint): Promise<void>;
  /** Empty blocks mined to end a stall (see `startStallGuard`). */
  nudges(): number;
  stop(): Promise<void>;
}

const STALL_CHECK_MS = 1_000;

/**
 * Mines an empty block whenever a whole interval passed without one. Two stalls happen under many concurrent
 * senders on a loaded machine: anvil's automine now and then leaves a transaction pending with nothing else
 * arriving to mine it, and viem's receipt wait ignores new blocks while it retries `eth_getTransaction`, so a
 * transaction mined meanwhile is only noticed at the next block. Either way every actor of the round waits;
 * one more block frees them. (It also moves the clock a second, far inside every protocol window.)
 */
function startStallGuard(test: ReturnType<typeof createAtomaTestClient>, publicClient: AtomaPublicClient) {
  let nudges = 0;
  let last = -1n;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void publicClient
      .getBlockNumber({ cacheTime: 0 })
      .then(async (block) => {
        if (block !== last) {
          last = block;
          return;
        }
        nudges++;
        await test.mine({ blocks: 1 });
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, STALL_CHECK_MS);
  timer.unref();
  return { nudges: () => nudges, stop: () => clearInterval(timer) };
}

export async function startSimNetwork(options: SimNetworkOptions): Promise<SimNetwork> {
  const anvil = await startAnvil();
  try {
    // Receipts of a local chain are ready at once: poll often, every round waits on several in a row.
    const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId, pollingInterval: 10 };
    const publicClient = createAtomaPublicClient(chain);
    const test = createAtomaTestClient(chain);
    const [deployer] = await devAccounts(chain);
    const adminWallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
    // The cheating game counts R as what the serving node keeps: no fee burn here (the self-dealing run has its
    // own deployment at the defaults). Buyers hold far more than a dev genesis supply.
    const deployment = await deployContracts(publicClient, adminWallet, {
      parameters: {
        token: { genesisSupply: 10n ** 36n },
        node: { minCollateral: options.collateral },
        task: { minReplicationPpm: 1, minSubscriptionCollateral: 1n },
        vault: { feeBurnBps: 0 },
      },
      echelons: [{ echelon: SIM_ECHELON, fingerprint: keccak256(stringToBytes("atoma-sim echelon")) }],
    });
    const { addresses, contracts } = deployment;
    const stallGuard = startStallGuard(test, publicClient);
    const admin: ChainContext = { publicClient, walletClient: adminWallet, addresses };

    const account = async (label: string, toma: bigint): Promise<ChainContext> => {
      const local = privateKeyToAccount(seededPrivateKey(options.seed, label));
      await test.setBalance({ address: local.address, value: parseEther("1000") });
      if (toma > 0n) {
        await publicClient.waitForTransactionReceipt({
          hash: await contracts.token.write.transfer([local.address, toma]),
        });
      }
      return { publicClient, walletClient: createAtomaWalletClient(chain, local), addresses };
    };

    const modelId: Hex = modelIdOf("atoma-sim");
    const owner = await account("model-owner", parseEther("100"));
    await registerModel(owner, {
      modelId,
      weightsRoot: keccak256(stringToBytes("atoma-sim weights")),
      feeBps: 0,
      collateral: parseEther("100"),
      uri: "atoma://models/atoma-sim",
    });

    const buyers: ChainContext[] = [];
    for (let i = 0; i < options.buyers; i++) {
      // Buyers hold plenty: what they spend is not what the simulation measures.
      buyers.push(await account(`buyer-${i}`, parseEther("1000000000")));
    }
    await Promise.all(buyers.map((buyer) => ensureAllowance(buyer, addresses.AtomaVault, maxUint256)));

    // One task at a time: a node leaves the previous rate's task and bonds most of its free stake to the new
    // one, so its unsettled stacks are backed (a timeout slash of 5 % leaves it still backed). A task left stays
    // bonded for its exit notice, at the minimum: the old bond is lowered to it before leaving.
    const subscribed = new Map<bigint, bigint>();
    const leaving = new Map<bigint, number>();
    const minimum = await minSubscriptionCollateral(admin);
    const subscribeNode = async (node: SimNode, taskId: bigint) => {
      const previous = subscribed.get(node.nodeId);
      if (previous !== undefined) {
        const ref = { taskId: previous, nodeId: node.nodeId };
        await setSubscriptionCollateral(node.ctx, { ...ref, collateral: minimum });
        await unsubscribe(node.ctx, ref);
        leaving.set(node.nodeId, (leaving.get(node.nodeId) ?? 0) + 1);
      }
      const { collateral } = await getNode(node.ctx, node.nodeId);
      const free = collateral - minimum * BigInt(leaving.get(node.nodeId) ?? 0);
      await subscribe(node.ctx, {
        taskId,
        nodeId: node.nodeId,
        pricePerMillion: options.stackFee,
        capacity: 10n ** 15n,
        collateral: (free * 9n) / 10n,
      });
      subscribed.set(node.nodeId, taskId);
    };

    return {
      anvil,
      deployment,
      admin,
      buyers,
      async advance(seconds) {
        await test.increaseTime({ seconds });
        await test.mine({ blocks: 1 });
      },
      async createTaskAt(p, attesters, sampleSize) {
        const verified = p > 0;
        const { taskId } = await createTask(admin, {
          modelId,
          role: TaskRole.Chat,
          securityLevel: verified ? SecurityLevel.CrossValidation : SecurityLevel.None,
          replicationPpm: verified ? Math.max(1, Math.round(p * 1_000_000)) : 0,
          attesters: verified ? attesters : 0,
          sampleSize: verified ? sampleSize : 0,
        });
        return taskId;
      },
      async addNode(slot, cheater, generation, taskId) {
        const ctx = await account(`node-${slot}-${generation}`, options.collateral);
        const { nodeId } = await registerNode(ctx, {
          signer: ctx.walletClient.account.address,
          url: `http://127.0.0.1/sim/${slot}/${generation}`,
          echelon: SIM_ECHELON,
          collateral: options.collateral,
        });
        const node = { slot, cheater, nodeId, ctx };
        if (taskId !== undefined) await subscribeNode(node, taskId);
        return node;
      },
      subscribeNode,
      nudges: stallGuard.nudges,
      async stop() {
        stallGuard.stop();
        await anvil.stop();
      },
    };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}
