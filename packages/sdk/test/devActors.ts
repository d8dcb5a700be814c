import { join } from "node:path";
import { createTask, subscribe } from "@atoma/chain";
import { loadKeyFile } from "@atoma/node";
import { createAtomaClient, type DirectClientOptions, parseNetwork, userContext } from "@atoma/sdk";
import { createPublicClient, createWalletClient, erc20Abi, type Hex, http, parseEther } from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import type { DevNetwork } from "./devNetwork.js";
import { startRelay } from "./relay.js";

/** anvil's public dev mnemonic: `atoma dev` funds its accounts 1 to 9 with TOMA. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** A short chat request for `model`. */
export const ask = (model: string, content: string) => ({
  model,
  messages: [{ role: "user", content }],
  max_tokens: 8,
});

/** A client on `dev` that buys from the cheapest node first (`sort: "price"`): the node behind the relay. */
export const cheapestFirstClient = (
  dev: DevNetwork,
  options: Omit<DirectClientOptions, "network" | "preferences">,
) => createAtomaClient({ network: dev.readyText, preferences: { sort: "price" }, ...options });

/** The key of the dev network's `index`-th node (from 0), as `atoma dev` wrote it. */
export const devNodeKey = (dev: DevNetwork, index: number) =>
  loadKeyFile(join(dev.stateDir, "nodes", `node-${index + 1}`, "node.key"));

/** A key of its own (no stack anywhere yet), funded with 1 ETH of gas and 20 TOMA by dev account 8. */
export async function fundedFreshBuyer(dev: DevNetwork, key: Hex = generatePrivateKey()) {
  const account = privateKeyToAccount(key);
  const funder = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 8 });
  const wallet = createWalletClient({ account: funder, transport: http(dev.ready.rpcUrl) });
  const reader = createPublicClient({ transport: http(dev.ready.rpcUrl) });
  const gas = await wallet.sendTransaction({ to: account.address, value: parseEther("1"), chain: null });
  await reader.waitForTransactionReceipt({ hash: gas });
  const toma = await wallet.writeContract({
    address: dev.ready.contracts.AtomaToken as Hex,
    abi: erc20Abi,
    functionName: "transfer",
    args: [account.address, parseEther("20")],
    chain: null,
  });
  await reader.waitForTransactionReceipt({ hash: toma });
  return account;
}

/**
 * The cheapest node (a `sort: "price"` client buys there first), its key, and a relay in front of it that the
 * returned `fetch` sends the node's requests through.
 */
export async function cheapestNodeBehindRelay(dev: DevNetwork) {
  const cheapest = [...dev.ready.nodes].sort((a, b) => Number(a.price) - Number(b.price))[0]!;
  const key = devNodeKey(dev, dev.ready.nodes.indexOf(cheapest));
  const relay = await startRelay(cheapest.url);
  const origin = new URL(cheapest.url).origin;
  const viaRelay: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    return fetch(url.startsWith(origin) ? relay.url + url.slice(origin.length) : url, init);
  };
  return { cheapest, key, relay, fetch: viaRelay };
}

/** The dev network's nodes as their own keys act on-chain. */
export const devNodeActors = (dev: DevNetwork) => {
  const network = parseNetwork(dev.readyText);
  return dev.ready.nodes.map((node, k) => ({
    nodeId: BigInt(node.id),
    ctx: userContext(network, devNodeKey(dev, k)),
  }));
};

/** A dev node as its own key acts on-chain. */
export type DevNodeActor = ReturnType<typeof devNodeActors>[number];

/** Creates `task` as `creator` and subscribes `node` to it at 1 per million units, with room for 1,000,000. */
export async function createSubscribedTask(
  creator: Parameters<typeof createTask>[0],
  node: DevNodeActor,
  task: Parameters<typeof createTask>[1],
) {
  const { taskId } = await createTask(creator, task);
  // The node's own process sends with this key too (its attestation posts, settlements): a transaction of the test
  // may take a nonce the node just used ("nonce too low"), which says nothing about what is tested; sent again.
  for (let attempt = 1; ; attempt++) {
    try {
      await subscribe(node.ctx, { taskId, nodeId: node.nodeId, pricePerMillion: 1n, capacity: 1_000_000n });
      return taskId;
    } catch (error) {
      if (attempt >= 5 || !/nonce|replacement transaction/i.test(String(error))) throw error;
    }
  }
}

/** The contracts `servedTasks` reads a network's tasks from. */
export const taskLookupContracts = (network: ReturnType<typeof parseNetwork>) => ({
  TaskRegistry: network.contracts.TaskRegistry,
  StackManager: network.contracts.StackManager,
});
