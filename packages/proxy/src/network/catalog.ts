import type { Address, Hex } from "viem";

/** A node subscribed to a task, as the chain has it. */
export interface CatalogNode {
  nodeId: bigint;
  url: string;
  signer: Address;
  pricePerMillion: bigint;
  /** The registry's reputation, 0..100 (raised by honest attestations). */
  reputation?: number | undefined;
}

export interface CatalogTask {
  taskId: bigint;
  securityLevel: number;
  /** Active nodes with an active subscription: those a purchase on the task may draw. */
  nodes: CatalogNode[];
}

/** A model the network serves: its on-chain id H(name), and its active tasks. */
export interface CatalogModel {
  /** The name clients send in `model` (empty when no node has named it yet). */
  name: string;
  modelId: Hex;
  tasks: CatalogTask[];
  /** Unix seconds the gateway first saw it. */
  firstSeen: number;
}

/** The nodes serving a model across its tasks, each once (the cheapest subscription counts). */
export function nodesOf(model: CatalogModel): CatalogNode[] {
  const byId = new Map<bigint, CatalogNode>();
  for (const task of model.tasks)
    for (const node of task.nodes) {
      const known = byId.get(node.nodeId);
      if (!known || node.pricePerMillion < known.pricePerMillion) byId.set(node.nodeId, node);
    }
  return [...byId.values()];
}

/** The cheapest and the median price per million units among the model's nodes; undefined without nodes. */
export function priceSpread(model: CatalogModel): { cheapest: bigint; median: bigint } | undefined {
  const prices = nodesOf(model)
    .map((node) => node.pricePerMillion)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const cheapest = prices[0];
  if (cheapest === undefined) return undefined;
  return { cheapest, median: prices[Math.floor((prices.length - 1) / 2)] ?? cheapest };
}
