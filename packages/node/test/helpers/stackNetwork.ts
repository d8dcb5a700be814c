import { buyStack, type ChainContext, SecurityLevel } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import type { Address, Hex } from "viem";

export const PRICE = DEV_PRICE_PER_MILLION;

/** A node registered on-chain: its signing key (the node's key file) and id. */
export type RegisteredNode = DevNode;

/** A dev network with a model, and helpers to register nodes, make tasks and buy stacks. */
export interface StackNetwork extends Devnet {
  modelId: Hex;
  addresses: Devnet["deployment"]["addresses"];
  /** The contracts a stack API node's configuration names. */
  contracts: Record<string, Address>;
  registerNodes(count: number): Promise<RegisteredNode[]>;
  /** A task on the model, served by `nodes` (eligible from the next epoch: call `nextEpoch`). */
  newTask(nodes: RegisteredNode[]): Promise<bigint>;
  /** A funded stack owner. */
  owner(): ReturnType<Devnet["account"]>;
  buy(owner: ChainContext, taskId: bigint, units: bigint): Promise<{ stackId: bigint; nodeId: bigint }>;
}

export async function startStackNetwork(): Promise<StackNetwork> {
  const devnet = await startDevnet();
  const { modelId } = await devnet.registerModel({ name: "atoma-tiny" });
  const { addresses } = devnet.deployment;
  return {
    ...devnet,
    modelId,
    addresses,
    contracts: { StackManager: addresses.StackManager, NodeRegistry: addresses.NodeRegistry },
    async registerNodes(count) {
      const nodes: RegisteredNode[] = [];
      for (let i = 0; i < count; i++) nodes.push(await devnet.addNode());
      return nodes;
    },
    newTask: (nodes) => devnet.addTask({ modelId, securityLevel: SecurityLevel.None, nodes }),
    owner: () => devnet.account(),
    async buy(owner, taskId, units) {
      const { stackId, nodeId } = await buyStack(owner, {
        taskId,
        units,
        maxPricePerMillion: PRICE,
        duration: 86_400n,
      });
      return { stackId, nodeId };
    },
  };
}
