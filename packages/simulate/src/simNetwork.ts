import {
  type Anvil,
  type AtomaPublicClient,
  type ChainContext,
  ensureAllowance,
  getNode,
  minSubscriptionCollateral,
  SecurityLevel,
  setSubscriptionCollateral,
  subscribe,
  unsubscribe,
} from "@atoma/chain";
import { type AtomaTestClient, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { keccak256, maxUint256, parseEther, stringToBytes } from "viem";
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
  deployment: Devnet["deployment"];
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
function startStallGuard(test: AtomaTestClient, publicClient: AtomaPublicClient) {
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
  // The cheating game counts R as what the serving node keeps: no fee burn here (the self-dealing run has its
  // own deployment at the defaults). Buyers hold far more than a dev genesis supply. Receipts of a local chain
  // are ready at once: poll often, every round waits on several in a row.
  const network = await startDevnet({
    pollingInterval: 10,
    parameters: {
      token: { genesisSupply: 10n ** 36n },
      node: { minCollateral: options.collateral },
      task: { minReplicationPpm: 1, minSubscriptionCollateral: 1n },
      vault: { feeBurnBps: 0 },
    },
    echelons: [{ echelon: SIM_ECHELON, fingerprint: keccak256(stringToBytes("atoma-sim echelon")) }],
  });
  try {
    const { admin, deployment } = network;
    const { addresses } = deployment;
    const stallGuard = startStallGuard(network.testClient, network.publicClient);
    /** An account of the run: its key follows from the seed and its label, so every run has the same ones. */
    const account = (label: string, toma: bigint) =>
      network.account(toma, { privateKey: seededPrivateKey(options.seed, label), eth: parseEther("1000") });

    const { modelId } = await network.registerModel({
      name: "atoma-sim",
      owner: (await account("model-owner", parseEther("100"))).ctx,
      weightsRoot: keccak256(stringToBytes("atoma-sim weights")),
      feeBps: 0,
    });

    const buyers: ChainContext[] = [];
    for (let i = 0; i < options.buyers; i++) {
      // Buyers hold plenty: what they spend is not what the simulation measures.
      buyers.push((await account(`buyer-${i}`, parseEther("1000000000"))).ctx);
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
      anvil: network.anvil,
      deployment,
      admin,
      buyers,
      advance: (seconds) => network.advance(seconds),
      async createTaskAt(p, attesters, sampleSize) {
        const verified = p > 0;
        return network.addTask({
          modelId,
          securityLevel: verified ? SecurityLevel.CrossValidation : SecurityLevel.None,
          replicationPpm: verified ? Math.max(1, Math.round(p * 1_000_000)) : 0,
          attesters: verified ? attesters : 0,
          sampleSize: verified ? sampleSize : 0,
        });
      },
      async addNode(slot, cheater, generation, taskId) {
        const operator = await account(`node-${slot}-${generation}`, options.collateral);
        const { nodeId } = await network.addNode({
          operator,
          signsAsOperator: true,
          url: `http://127.0.0.1/sim/${slot}/${generation}`,
          echelon: SIM_ECHELON,
          collateral: options.collateral,
        });
        const node = { slot, cheater, nodeId, ctx: operator.ctx };
        if (taskId !== undefined) await subscribeNode(node, taskId);
        return node;
      },
      subscribeNode,
      nudges: stallGuard.nudges,
      async stop() {
        stallGuard.stop();
        await network.stop();
      },
    };
  } catch (error) {
    await network.stop();
    throw error;
  }
}
