import {
  type Anvil,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  createTask,
  type Deployment,
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
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

/** A registered node's keys: the operator that staked, and the signer the node software runs with. */
export interface ChainNode {
  nodeId: bigint;
  operator: ChainContext;
  signer: LocalAccount;
  signerCtx: ChainContext;
}

/** One anvil with every contract (and the example consumer) deployed, and the model `model` registered. */
export interface ConsensusNetwork {
  anvil: Anvil;
  deployment: Deployment;
  admin: ChainContext;
  modelId: Hex;
  account(toma?: bigint): Promise<{ account: LocalAccount; ctx: ChainContext }>;
  addNode(echelon: number): Promise<ChainNode>;
  /** A consensus-level task on the model, with each node subscribed at its price. */
  consensusTask(subscriptions: { node: ChainNode; pricePerMillion: bigint }[]): Promise<bigint>;
  advance(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startConsensusNetwork(model: string): Promise<ConsensusNetwork> {
  const anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const test = createAtomaTestClient(chain);
  const [deployer] = await devAccounts(chain);
  const adminWallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const deployment = await deployContracts(publicClient, adminWallet, { exampleConsumer: true });
  const { addresses, contracts } = deployment;
  const admin: ChainContext = { publicClient, walletClient: adminWallet, addresses };
  const ctxFor = (account: LocalAccount): ChainContext => ({
    publicClient,
    walletClient: createAtomaWalletClient(chain, account),
    addresses,
  });
  const account = async (toma = parseEther("100000")) => {
    const local = privateKeyToAccount(generatePrivateKey());
    await test.setBalance({ address: local.address, value: parseEther("100") });
    if (toma > 0n)
      await publicClient.waitForTransactionReceipt({
        hash: await contracts.token.write.mint([local.address, toma]),
      });
    return { account: local, ctx: ctxFor(local) };
  };
  const modelId = modelIdOf(model);
  const owner = await account();
  await registerModel(owner.ctx, {
    modelId,
    weightsRoot: keccak256(stringToBytes("weights")),
    feeBps: 500,
    collateral: parseEther("100"),
    uri: `atoma://models/${model}`,
  });
  return {
    anvil,
    deployment,
    admin,
    modelId,
    account,
    async addNode(echelon) {
      const operator = await account();
      const signer = await account(0n);
      const { nodeId } = await registerNode(operator.ctx, {
        signer: signer.account.address,
        url: "http://127.0.0.1:8080",
        echelon,
        collateral: parseEther("1000"),
      });
      return { nodeId, operator: operator.ctx, signer: signer.account, signerCtx: signer.ctx };
    },
    async consensusTask(subscriptions) {
      const { taskId } = await createTask(admin, {
        modelId,
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.Consensus,
      });
      for (const { node, pricePerMillion } of subscriptions)
        await subscribe(node.signerCtx, {
          taskId,
          nodeId: node.nodeId,
          pricePerMillion,
          capacity: 10n ** 12n,
        });
      return taskId;
    },
    async advance(seconds) {
      await test.increaseTime({ seconds });
      await test.mine({ blocks: 1 });
    },
    stop: () => anvil.stop(),
  };
}
