import {
  ChosenNodeCannotServeError,
  chooseFromSet,
  closeStack,
  getNode,
  type NodeCandidate,
  requestAndDrawSet,
  unsubscribe,
} from "@atoma/chain/portable";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNetwork, type TestNetwork, type TestNode } from "../../chain/test/network.js";
import { nodesAtRisingPrices, risingPrice } from "../../chain/test/risingPrices.js";
import { boughtStack, givenStack } from "./stackChoice.js";

/** `boughtStack` picks the node each of the protocol's three ways and returns what `StackClient` needs of it. */
describe("boughtStack's node pick against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let taskId: bigint;
  beforeAll(async () => {
    network = await startNetwork();
    ({ nodes, taskId } = await nodesAtRisingPrices(network, 3));
  }, 120_000);
  afterAll(() => network.stop());

  const terms = { units: 10_000n, maxPricePerMillion: risingPrice(2), duration: 3_600n };

  it("buys from the node the buyer names, with its URL and signer", async () => {
    const { ctx } = await network.account();
    const named = nodes[2]!;
    const stack = await boughtStack(ctx, { ...terms, taskId, pick: { kind: "node", nodeId: named.nodeId } });
    const node = await getNode(ctx, named.nodeId);
    expect(stack).toMatchObject({
      nodeId: named.nodeId,
      nodeUrl: node.url,
      nodeSigner: node.signer,
      units: terms.units,
      bought: true,
    });
  });

  it("buys from a drawn set, the member picked by the buyer's own criteria", async () => {
    const { ctx } = await network.account();
    const offered: NodeCandidate[][] = [];
    const stack = await boughtStack(ctx, {
      ...terms,
      taskId,
      pick: {
        kind: "set",
        size: 2,
        choose: (set) => {
          offered.push([...set]);
          return set.at(-1)!.nodeId;
        },
      },
    });
    expect(offered).toHaveLength(1);
    expect(offered[0]).toHaveLength(2);
    expect(stack.nodeId).toBe(offered[0]!.at(-1)!.nodeId);
  });

  it("never moves to another member when the one the chooser picks can no longer serve: a typed error", async () => {
    const fresh = await nodesAtRisingPrices(network, 2);
    const { ctx } = await network.account();
    const picks: bigint[] = [];
    const cheapest = fresh.nodes[0]!;
    const bought = boughtStack(ctx, {
      ...terms,
      taskId: fresh.taskId,
      pick: {
        kind: "set",
        size: 2,
        choose: async () => {
          // Someone front-runs the choice: the picked member leaves the task before it lands.
          await unsubscribe(cheapest.signer, { taskId: fresh.taskId, nodeId: cheapest.nodeId });
          picks.push(cheapest.nodeId);
          return cheapest.nodeId;
        },
      },
    });
    await expect(bought).rejects.toBeInstanceOf(ChosenNodeCannotServeError);
    await expect(bought).rejects.toMatchObject({ code: "chosen_node_cannot_serve", nodeId: cheapest.nodeId });
    expect(picks).toEqual([cheapest.nodeId]);
  });

  it("takes a stack waiting for its owner's choice as unusable, and its chosen node once chosen", async () => {
    const { ctx } = await network.account();
    const drawn = await requestAndDrawSet(ctx, { ...terms, taskId, setSize: 2 });
    await expect(givenStack(ctx, drawn.stackId)).rejects.toThrow(/waits for its owner to choose a node/);
    const member = drawn.set[1]!.nodeId;
    await chooseFromSet(ctx, { stackId: drawn.stackId, nodeId: member });
    expect(await givenStack(ctx, drawn.stackId)).toMatchObject({ nodeId: member, bought: false });
  });

  it("takes a stack its owner closed as unusable, though it is not settled yet", async () => {
    const { ctx } = await network.account();
    const stack = await boughtStack(ctx, {
      ...terms,
      taskId,
      pick: { kind: "node", nodeId: nodes[1]!.nodeId },
    });
    expect(await givenStack(ctx, stack.stackId)).toMatchObject({ stackId: stack.stackId });
    await closeStack(ctx, { stackId: stack.stackId });
    await expect(givenStack(ctx, stack.stackId)).rejects.toThrow(/is closed/);
  });

  it("draws the node at random when no pick is given, as before", async () => {
    const { ctx } = await network.account();
    const stack = await boughtStack(ctx, { ...terms, taskId, maxPricePerMillion: risingPrice(0) });
    expect(stack.nodeId).toBe(nodes[0]!.nodeId);
  });
});
