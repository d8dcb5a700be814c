import {
  type Anvil,
  type AtomaAddresses,
  buyStack,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  createTask,
  type DeployParameters,
  deployContracts,
  devAccounts,
  modelIdOf,
  registerModel,
  registerNode,
  SecurityLevel,
  startAnvil,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { atomaDomain } from "@atoma/core";
import {
  type Address,
  keccak256,
  type LocalAccount,
  parseEther,
  stringToBytes,
  type TypedDataDomain,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { TEST_ECHELON } from "./testEchelon.js";

export const PRICE = parseEther("2");

/** A node registered on-chain: its signing key (the node's key file) and id. */
export interface RegisteredNode {
  nodeId: bigint;
  account: LocalAccount;
  privateKey: `0x${string}`;
}

/** Anvil with the contracts deployed, a model and a task, and helpers to register nodes and buy stacks. */
export interface StackNetwork {
  anvil: Anvil;
  addresses: AtomaAddresses;
  domain: TypedDataDomain;
  /** Contracts as `chain.contracts` in the node's configuration. */
  contracts: Record<string, Address>;
  registerNodes(count: number, taskIds?: bigint[]): Promise<RegisteredNode[]>;
  /** A task on the model, served by `nodes` (eligible from the next epoch: call `nextEpoch`). */
  newTask(nodes: RegisteredNode[]): Promise<bigint>;
  nextEpoch(): Promise<void>;
  /** A funded stack owner. */
  owner(): Promise<{ account: LocalAccount; ctx: ChainContext }>;
  buy(owner: ChainContext, taskId: bigint, units: bigint): Promise<{ stackId: bigint; nodeId: bigint }>;
  stop(): Promise<void>;
}

export async function startStackNetwork(parameters?: Partial<DeployParameters>): Promise<StackNetwork> {
  const anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient({ ...chain, pollingInterval: 50 });
  const test = createAtomaTestClient(chain);
  const [deployer] = await devAccounts(chain);
  const admin = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const deployment = await deployContracts(publicClient, admin, { parameters, echelons: [TEST_ECHELON] });
  const { addresses, contracts } = deployment;
  const adminCtx: ChainContext = { publicClient, walletClient: admin, addresses };
  const funded = async (toma = parseEther("100000")) => {
    const privateKey = generatePrivateKey();
    const account = privateKeyToAccount(privateKey);
    await test.setBalance({ address: account.address, value: parseEther("100") });
    if (toma > 0n)
      await publicClient.waitForTransactionReceipt({
        hash: await contracts.token.write.transfer([account.address, toma]),
      });
    const ctx: ChainContext = {
      publicClient,
      walletClient: createAtomaWalletClient(chain, account),
      addresses,
    };
    return { account, privateKey, ctx };
  };
  const modelId = modelIdOf("atoma-tiny");
  const modelOwner = await funded();
  await registerModel(modelOwner.ctx, {
    modelId,
    weightsRoot: keccak256(stringToBytes("weights")),
    feeBps: 500,
    collateral: parseEther("100"),
    uri: "atoma://models/atoma-tiny",
  });
  const nodeContexts = new Map<bigint, ChainContext>();
  return {
    anvil,
    addresses,
    domain: atomaDomain(anvil.chainId, addresses.StackManager),
    contracts: { StackManager: addresses.StackManager, NodeRegistry: addresses.NodeRegistry },
    async registerNodes(count) {
      const nodes: RegisteredNode[] = [];
      for (let i = 0; i < count; i++) {
        const operator = await funded();
        const signer = await funded(0n);
        const { nodeId } = await registerNode(operator.ctx, {
          signer: signer.account,
          url: "http://127.0.0.1:8080",
          echelon: 1,
          collateral: parseEther("1000"),
        });
        nodeContexts.set(nodeId, signer.ctx);
        nodes.push({ nodeId, account: signer.account, privateKey: signer.privateKey });
      }
      return nodes;
    },
    async newTask(nodes) {
      const { taskId } = await createTask(adminCtx, {
        modelId,
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.None,
      });
      for (const node of nodes)
        await subscribe(nodeContexts.get(node.nodeId)!, {
          taskId,
          nodeId: node.nodeId,
          pricePerMillion: PRICE,
          capacity: 10n ** 12n,
        });
      return taskId;
    },
    async nextEpoch() {
      await test.increaseTime({ seconds: 3_600 });
      await test.mine({ blocks: 1 });
    },
    owner: async () => {
      const { account, ctx } = await funded();
      return { account, ctx };
    },
    async buy(owner, taskId, units) {
      const { stackId, nodeId } = await buyStack(owner, {
        taskId,
        units,
        maxPricePerMillion: PRICE,
        duration: 86_400n,
      });
      return { stackId, nodeId };
    },
    stop: () => anvil.stop(),
  };
}
