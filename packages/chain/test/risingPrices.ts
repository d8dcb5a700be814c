import { parseEther } from "viem";
import { createTask, TaskRole } from "../src/actions/createTask.js";
import { subscribe } from "../src/actions/subscribe.js";
import { SecurityLevel, type TestNetwork, type TestNode } from "./network.js";

/** What node i of `nodesAtRisingPrices` asks: 1 + i TOMA per million units. */
export const risingPrice = (i: number) => parseEther(String(1 + i));

/**
 * `count` new nodes subscribed to a new unverified task at rising prices (`risingPrice`), eligible once the call
 * returns (an epoch has passed): a task whose stack price says which node serves it.
 */
export async function nodesAtRisingPrices(
  network: TestNetwork,
  count: number,
): Promise<{ nodes: TestNode[]; taskId: bigint }> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await network.addNode());
  const { taskId } = await createTask(network.admin, {
    modelId: network.modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.None,
  });
  for (const [i, node] of nodes.entries())
    await subscribe(node.signer, {
      taskId,
      nodeId: node.nodeId,
      pricePerMillion: risingPrice(i),
      capacity: 10n ** 12n,
    });
  await network.advance(3_600);
  return { nodes, taskId };
}
