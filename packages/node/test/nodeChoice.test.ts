import { rmSync } from "node:fs";
import {
  type BuyStackResult,
  buyStackFromNode,
  type ChainContext,
  chooseFromSet,
  closeStack,
  requestStackFromSet,
  StackStatus,
} from "@atoma/chain";
import type { LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRICE,
  SecurityLevel,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "../../chain/test/network.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { recordStack, serveRequests, settlementNode, waitFor } from "./helpers/settlementNetwork.js";

/**
 * Stacks whose node was picked by a set or by the buyer, on real settlement workers: the candidate nodes draw a
 * set purchase left undrawn (as they draw a node), and the member the owner binds, or the node it names, alone
 * serves and settles the stack.
 */
describe("sets and chosen nodes on the settlement worker", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let user: { account: LocalAccount; ctx: ChainContext };
  let taskId: bigint;
  const running: { node: AtomaNode; dataDir: string }[] = [];
  const workerOf = new Map<bigint, AtomaNode>();

  beforeAll(async () => {
    network = await startNetwork();
    nodes = [await network.addNode(), await network.addNode()];
    taskId = await taskWith(network, nodes, { securityLevel: SecurityLevel.None });
    user = await network.account();
    await network.advance(3_600);
    for (const server of nodes) {
      const started = settlementNode(network, server);
      await started.node.start();
      running.push(started);
      workerOf.set(server.nodeId, started.node);
    }
  }, 180_000);

  afterAll(async () => {
    for (const { node, dataDir } of running) {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    await network?.stop();
  });

  const rowOf = (node: AtomaNode, stackId: bigint) =>
    node.context.db.selectFrom("settlements").selectAll().where("stack_id", "=", stackId).executeTakeFirst();

  /** The serving node records the stack, serves two requests, the owner closes it and the node settles them. */
  async function servedAndSettled(stack: BuyStackResult) {
    const node = workerOf.get(stack.nodeId)!;
    await recordStack(node, stack, { owner: user.account, taskId, units: 1_000n });
    await serveRequests(network, node, stack, user.account, 2);
    await closeStack(user.ctx, { stackId: stack.stackId });
    return waitFor("the settlement", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.settle_tx ? row : undefined;
    });
  }

  it("a candidate draws the set of a purchase its buyer left undrawn; the member chosen settles the stack", async () => {
    const { stackManager } = network.deployment.contracts;
    const request = await requestStackFromSet(user.ctx, {
      taskId,
      units: 1_000n,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
      setSize: 2,
    });
    await waitFor("a candidate's draw of the set", async () => {
      if ((await stackManager.read.getStack([request.stackId])).status === StackStatus.Choosing) return true;
      await network.advance(1);
      return undefined;
    });
    const [drawn] = await stackManager.getEvents.NodeSetDrawn(
      { stackId: request.stackId },
      { fromBlock: 0n },
    );
    const drawer = (await user.ctx.publicClient.getTransaction({ hash: drawn!.transactionHash })).from;
    expect(nodes.map((n) => n.signerAccount.address.toLowerCase())).toContain(drawer.toLowerCase());

    const member = nodes[1]!;
    const chosen = await chooseFromSet(user.ctx, { stackId: request.stackId, nodeId: member.nodeId });
    const settled = await servedAndSettled({ ...chosen, requestHash: request.hash });
    expect(settled.leaf_count).toBe(2n);
    expect(await rowOf(workerOf.get(nodes[0]!.nodeId)!, request.stackId)).toBeUndefined();
    const stack = await stackManager.read.getStack([request.stackId]);
    expect(stack).toMatchObject({ status: StackStatus.Settling, nodeId: member.nodeId });
  });

  it("the node the buyer names serves and settles the stack", async () => {
    const named = nodes[0]!;
    const stack = await buyStackFromNode(user.ctx, {
      taskId,
      nodeId: named.nodeId,
      units: 1_000n,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
    });
    const settled = await servedAndSettled(stack);
    expect(settled.leaf_count).toBe(2n);
    expect(await rowOf(workerOf.get(nodes[1]!.nodeId)!, stack.stackId)).toBeUndefined();
  });
});
