import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drawNode, frozenPurchaseOf, requestStack } from "../src/actions/buyStack.js";
import { getStack } from "../src/actions/getStack.js";
import { checkersForListedDraw } from "../src/actions/listedDraw.js";
import { offeredNodes } from "../src/actions/offeredNodes.js";
import { StackStatus } from "../src/index.js";
import { PRICE, SecurityLevel, startNetwork, type TestNetwork, type TestNode, taskWith } from "./network.js";

/**
 * A drawn purchase names its candidates (`buyStackAmong`: the purchase walks no subscriber) and its draw checks the
 * drawn node alone, naming that node's checkers on a verified task (`drawListed`), through the actions on anvil,
 * as a buyer and as a keeper that only knows the stack id.
 */
describe("a listed purchase against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let taskId: bigint;
  beforeAll(async () => {
    network = await startNetwork();
    nodes = [];
    for (let i = 0; i < 4; i++) nodes.push(await network.addNode());
    taskId = await taskWith(network, nodes, {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 1,
      sampleSize: 1,
    });
    await network.advance(3_600);
  }, 120_000);
  afterAll(() => network.stop());

  it("lists the offered nodes in node order, and a keeper draws it from the stack id, naming checkers", async () => {
    const user = await network.account();
    const terms = { taskId, units: 10_000n, maxPricePerMillion: PRICE, duration: 3_600n };
    const request = await requestStack(user.ctx, terms);
    const offered = (await offeredNodes(user.ctx, terms)).sort((a, b) => Number(a.nodeId - b.nodeId));
    expect(request).toMatchObject({ listed: true, candidates: offered });
    expect(offered).toHaveLength(4);
    expect(await frozenPurchaseOf(user.ctx, request.stackId)).toEqual({
      candidates: offered,
      setSize: undefined,
      listed: true,
    });
    const keeper = await network.account();
    const checkers = await checkersForListedDraw(keeper.ctx, request.stackId, request.candidates);
    // One attester and a committee of one besides the drawn node, in node order, all subscribers of the task.
    expect(checkers).toHaveLength(2);
    expect(checkers[0]! < checkers[1]!).toBe(true);
    const drawn = await drawNode(keeper.ctx, { stackId: request.stackId });
    if (drawn.outcome !== "drawn") throw new Error(`drawn ${drawn.outcome}`);
    expect(checkers).not.toContain(drawn.nodeId);
    expect(offered.map((c) => c.nodeId)).toContain(drawn.nodeId);
    const stack = await getStack(user.ctx, request.stackId);
    expect(stack).toMatchObject({ status: StackStatus.Active, nodeId: drawn.nodeId, pricePerMillion: PRICE });
    // Bound, its list and purchase block are cleared (the stack's words hold the binding): nothing is left to draw.
    await expect(frozenPurchaseOf(user.ctx, request.stackId)).rejects.toThrow(/not pending/);
  });

  it("reports no candidate as the walked purchase does", async () => {
    const user = await network.account();
    const terms = { taskId, units: 10_000n, maxPricePerMillion: 1n, duration: 3_600n };
    await expect(requestStack(user.ctx, terms)).rejects.toMatchObject({
      functionName: "buyStack",
      errorName: "NoEligibleNode",
    });
  });
});
