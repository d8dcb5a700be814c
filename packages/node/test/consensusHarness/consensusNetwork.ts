import {
  type Anvil,
  type ChainContext,
  createTask,
  type Deployment,
  SecurityLevel,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import type { Hex, LocalAccount } from "viem";
import { startNetwork } from "../../../chain/test/network.js";

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
  // A dispute committee minimum of three (the dev parameters' is one), as the cluster's layout assumes.
  const network = await startNetwork({ dispute: { minCommittee: 3 } }, model);
  const { admin, modelId } = network;
  return {
    anvil: network.anvil,
    deployment: network.deployment,
    admin,
    modelId,
    account: network.account,
    async addNode(echelon) {
      const node = await network.addNode({ echelon });
      return {
        nodeId: node.nodeId,
        operator: node.operator,
        signer: node.signerAccount,
        signerCtx: node.signer,
      };
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
    advance: (seconds) => network.advance(seconds),
    stop: () => network.stop(),
  };
}
