import { join } from "node:path";
import {
  createTask,
  execute,
  modelIdOf,
  SecurityLevel,
  subscribe,
  TaskRole,
  taskRegistryAbi,
  unsubscribe,
} from "@atoma/chain";
import { loadKeyFile } from "@atoma/node";
import { parseNetwork, servingSecurityLevel, userContext, verifyChainOf } from "@atoma/sdk";
import { mnemonicToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

/** anvil's public dev mnemonic: `atoma dev` funds its accounts 1 to 9 with TOMA. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/**
 * Review sdk M-3: tasks are free, a subscription's bond comes back after its exit, and its `Subscribed` log stays. 64
 * newer tasks at the model's top clear level, each subscribed once and then deactivated or left, filled the window
 * read for the level and cut the real tasks off: every gateway client's default level was unknown for good.
 */
describe("the default level with 64 dead top-level tasks (atoma dev, three nodes)", () => {
  let dev: DevNetwork;
  beforeAll(async () => {
    dev = await startDevNetwork(3);
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
  }, 60_000);

  it("keeps the verified level when 64 newer level-1 tasks were subscribed, then deactivated or left", async () => {
    const network = parseNetwork(dev.readyText);
    const chain = verifyChainOf(network);
    const spammer = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 7 }));
    const nodes = dev.ready.nodes.map((node, k) => ({
      nodeId: BigInt(node.id),
      ctx: userContext(network, loadKeyFile(join(dev.stateDir, "nodes", `node-${k + 1}`, "node.key"))),
    }));
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
    for (let k = 0; k < 64; k++) {
      const { taskId } = await createTask(spammer, {
        modelId: modelIdOf(dev.ready.model),
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.CrossValidation,
        replicationPpm: 8_000,
        attesters: 1,
        sampleSize: 4,
      });
      const node = nodes[k % nodes.length]!;
      await subscribe(node.ctx, { taskId, nodeId: node.nodeId, pricePerMillion: 1n, capacity: 1_000_000n });
      // Half deactivated by their creator, half left by their node (its bond back after the exit notice).
      if (k % 2 === 0)
        await execute(spammer, {
          address: spammer.addresses.TaskRegistry,
          abi: taskRegistryAbi,
          functionName: "deactivateTask",
          args: [taskId],
        });
      else await unsubscribe(node.ctx, { taskId, nodeId: node.nodeId });
    }
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
  }, 300_000);
});
