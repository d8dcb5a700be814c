import {
  atomaDomain,
  canonicalJson,
  type Hash,
  leafHash,
  leafOf,
  requestHash,
  type SignedResponseFields,
  type StackLeaf,
  StackTree,
  signRequest,
  signResponse,
} from "@atoma/core";
import {
  type Address,
  type Hex,
  keccak256,
  type LocalAccount,
  parseEther,
  stringToBytes,
  stringToHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { ChainContext } from "../src/actions/context.js";
import { createTask, SecurityLevel, TaskRole } from "../src/actions/createTask.js";
import { registerModel } from "../src/actions/registerModel.js";
import { registerNode } from "../src/actions/registerNode.js";
import { subscribe } from "../src/actions/subscribe.js";
import type { PostedRequest } from "../src/actions/transcriptFallback.js";
import { type Anvil, startAnvil } from "../src/anvil/startAnvil.js";
import {
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  devAccounts,
} from "../src/clients.js";
import { type Deployment, deployContracts } from "../src/deploy.js";
import { modelIdOf } from "../src/modelId.js";
import type { ParameterOverrides } from "../src/parameters.js";

export const MODEL = "atoma-tiny";
export const PRICE = parseEther("2"); // per million units

/** A registered node: its operator and signing accounts, each with its own action context. */
export interface TestNode {
  nodeId: bigint;
  operator: ChainContext;
  signer: ChainContext;
  signerAccount: LocalAccount;
}

/** One anvil with the whole system deployed, and helpers to populate it: one per test file. */
export interface TestNetwork {
  anvil: Anvil;
  deployment: Deployment;
  admin: ChainContext;
  advance(seconds: bigint | number): Promise<void>;
  now(): Promise<bigint>;
  account(toma?: bigint): Promise<{ account: LocalAccount; ctx: ChainContext }>;
  addNode(options?: { echelon?: number }): Promise<TestNode>;
  modelId: Hex;
  stop(): Promise<void>;
}

/** The echelons the test deployments approve (0–3), each with a fingerprint of its own. */
export const TEST_ECHELONS = [0, 1, 2, 3].map((echelon) => ({
  echelon,
  fingerprint: keccak256(stringToBytes(`test echelon ${echelon}`)),
}));

/** `model` names the registered model (its id is `modelIdOf(model)`). */
export async function startNetwork(parameters?: ParameterOverrides, model = MODEL): Promise<TestNetwork> {
  const anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const test = createAtomaTestClient(chain);
  const [deployer] = await devAccounts(chain);
  const adminWallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const deployment = await deployContracts(publicClient, adminWallet, {
    parameters,
    exampleConsumer: true,
    echelons: TEST_ECHELONS,
  });
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
    if (toma > 0n) {
      await publicClient.waitForTransactionReceipt({
        hash: await contracts.token.write.transfer([local.address, toma]),
      });
    }
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
    async advance(seconds) {
      await test.increaseTime({ seconds: Number(seconds) });
      await test.mine({ blocks: 1 });
    },
    async now() {
      return (await publicClient.getBlock()).timestamp;
    },
    async addNode(options = {}) {
      const operator = await account();
      const signer = await account(0n);
      const { nodeId } = await registerNode(operator.ctx, {
        signer: signer.account,
        url: "http://127.0.0.1:8080",
        echelon: options.echelon ?? 1,
        collateral: parseEther("1000"),
      });
      return { nodeId, operator: operator.ctx, signer: signer.ctx, signerAccount: signer.account };
    },
    stop: () => anvil.stop(),
  };
}

/** Creates a task on the network's model and subscribes `nodes` to it at `price`. */
export async function taskWith(
  network: TestNetwork,
  nodes: readonly TestNode[],
  options: { securityLevel: number; replicationPpm?: number; attesters?: number; sampleSize?: number },
): Promise<bigint> {
  const { taskId } = await createTask(network.admin, {
    modelId: network.modelId,
    role: TaskRole.Chat,
    ...options,
  });
  for (const node of nodes) {
    await subscribe(node.signer, {
      taskId,
      nodeId: node.nodeId,
      pricePerMillion: PRICE,
      capacity: 10n ** 12n,
    });
  }
  return taskId;
}

export { SecurityLevel };

/** What a node served from a stack: owner-signed requests, its responses, the leaves and their tree. */
export interface ServedStack {
  bodies: unknown[];
  reqHashes: Hash[];
  respHashes: Hash[];
  leaves: StackLeaf[];
  /** The bytes each response hash is the hash of (what a dispute committee member shows). */
  outputs: Hex[];
  tree: StackTree;
  requests: PostedRequest[];
  responses: { fields: SignedResponseFields; signature: Hex }[];
}

/**
 * Serves `count` requests of a stack the way a node does: request k is the owner's EIP-712-signed body with
 * nonce k, each response hash is what the engine would produce (`variant` stands for the model that ran:
 * honest attesters recompute with "honest"), `totalUnits` are spread over the requests, and the node signs every
 * response with its running unit total.
 */
export async function serveStack(
  network: TestNetwork,
  stackId: bigint,
  owner: LocalAccount,
  node: TestNode,
  count: number,
  variant = "honest",
  totalUnits = 100n * BigInt(count),
): Promise<ServedStack> {
  const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
  const served: ServedStack = {
    bodies: [],
    reqHashes: [],
    respHashes: [],
    leaves: [],
    outputs: [],
    requests: [],
    responses: [],
    tree: undefined!,
  };
  const each = totalUnits / BigInt(count);
  let cumulative = 0n;
  for (let k = 0; k < count; k++) {
    const body = {
      model: MODEL,
      messages: [{ role: "user", content: `question ${k} of stack ${stackId}` }],
      seed: k,
    };
    const reqHash = requestHash(body);
    const fields = { stackId, reqHash, nonce: BigInt(k), deadline: 2_000_000_000n };
    served.bodies.push(body);
    served.reqHashes.push(reqHash);
    served.requests.push({
      body: stringToHex(canonicalJson(body)),
      nonce: fields.nonce,
      deadline: fields.deadline,
      signature: await signRequest(owner, domain, fields),
    });
    const units = k === count - 1 ? totalUnits - cumulative : each;
    cumulative += units;
    // A result whose usage carries the leaf's units, as a committee member shows it.
    const usage = { prompt_tokens: Number(units), total_tokens: Number(units) };
    const output = stringToHex(canonicalJson({ answer: `${variant}: answer to ${reqHash}`, usage }));
    const respHash = keccak256(output);
    served.outputs.push(output);
    served.respHashes.push(respHash);
    const response: SignedResponseFields = {
      stackId,
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash,
      respHash,
      units,
      cumulativeUnits: cumulative,
      seed: BigInt(k),
    };
    served.leaves.push(leafOf(response));
    served.responses.push({
      fields: response,
      signature: await signResponse(node.signerAccount, domain, response),
    });
  }
  served.tree = new StackTree(served.leaves.map(leafHash));
  return served;
}

/**
 * The sampled entries of a served stack, in the order of `indices`: what attesters recompute (response hashes
 * and units), the reveal (leaves, the last leaf, proofs) and the owner-signed requests.
 */
export function sampled(served: ServedStack, indices: readonly bigint[]) {
  const at = indices.map(Number);
  const last = served.leaves.length - 1;
  return {
    reqHashes: at.map((k) => served.reqHashes[k]!),
    sample: {
      respHashes: at.map((k) => served.respHashes[k]!),
      units: at.map((k) => served.leaves[k]!.units),
    },
    sampled: at.map((k) => served.leaves[k]!),
    proofs: at.map((k) => served.tree.proof(k)),
    last: served.leaves[last]!,
    lastProof: served.tree.proof(last),
    requests: at.map((k) => served.requests[k]!),
    outputs: at.map((k) => served.outputs[k]!),
  };
}

export type { Address };
