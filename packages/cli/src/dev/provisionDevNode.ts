import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  getNode,
  getSubscription,
  nodeIdOfSigner,
  registerNode,
  setNodeUrl,
  subscribe,
  updateSubscription,
} from "@atoma/chain";
import type { Devnet } from "@atoma/chain/devnet";
import { loadKeyFile, writeDevKeyFile } from "@atoma/node";
import { type Address, parseEther } from "viem";
import { DEV_ECHELON } from "./devEchelon.js";
import { freePort } from "./freePort.js";

/** What a dev node stakes, what it bonds to each task subscription, and the units it accepts per task. */
const COLLATERAL = parseEther("10000");
const SUBSCRIPTION_COLLATERAL = parseEther("2000");
const CAPACITY = 100_000_000n;

export interface DevNodePlan {
  /** Holds the node's key file (mode 0600) and its data (embedded database, blobs). */
  dir: string;
  /** TOMA per 1M units it asks on every task. */
  price: bigint;
  taskIds: bigint[];
  /** Ports already taken by nodes provisioned alongside this one: the node's port is none of them. */
  ports?: Set<number> | undefined;
  /**
   * Pays the node's gas and stake from the deployer: the nodes provisioned at once share one that sends in turn
   * (the deployer's transactions each take its next nonce). @default `network.fund`
   */
  fund?: Devnet["fund"] | undefined;
}

export interface ProvisionedNode {
  nodeId: bigint;
  address: Address;
  keyFile: string;
  port: number;
  url: string;
  price: bigint;
}

/**
 * Makes a dev node ready to serve: its key (kept in `dir`, reused on a kept chain), gas and TOMA, registration
 * with stake at a URL on a free port, and a subscription to each task at its price. Idempotent on a kept chain:
 * a registered node only moves its URL and price.
 */
export async function provisionDevNode(network: Devnet, plan: DevNodePlan): Promise<ProvisionedNode> {
  const keyFile = join(plan.dir, "node.key");
  if (!existsSync(keyFile)) await writeDevKeyFile(keyFile);
  const account = loadKeyFile(keyFile);
  const address = account.address;
  let port = await freePort();
  while (plan.ports?.has(port)) port = await freePort();
  plan.ports?.add(port);
  const url = `http://127.0.0.1:${port}`;
  const ctx = network.contextOf(account);

  let nodeId = await nodeIdOfSigner(ctx, address);
  if (nodeId === 0n) {
    await (plan.fund ?? network.fund)(address, COLLATERAL * 2n, parseEther("1000"));
    nodeId = (await registerNode(ctx, { signer: account, url, echelon: DEV_ECHELON, collateral: COLLATERAL }))
      .nodeId;
  } else if ((await getNode(ctx, nodeId)).url !== url) {
    await setNodeUrl(ctx, { nodeId, url });
  }
  const provisioned = { nodeId, address, keyFile, port, url, price: plan.price };
  for (const taskId of plan.taskIds) await subscribeDevNode(network, provisioned, taskId);
  return provisioned;
}

/** Subscribes the node to `taskId` at its price (sending from its key), or moves an existing subscription's price. */
export async function subscribeDevNode(
  network: Devnet,
  node: ProvisionedNode,
  taskId: bigint,
): Promise<void> {
  const ctx = network.contextOf(loadKeyFile(node.keyFile));
  const params = { taskId, nodeId: node.nodeId, pricePerMillion: node.price, capacity: CAPACITY };
  const existing = await getSubscription(ctx, params);
  if (!existing.active) await subscribe(ctx, { ...params, collateral: SUBSCRIPTION_COLLATERAL });
  else if (existing.pricePerMillion !== node.price) await updateSubscription(ctx, params);
}
