import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buyStack } from "../src/actions/buyStack.js";
import { findOwnedStacks } from "../src/actions/findOwnedStacks.js";
import { PRICE, SecurityLevel, startNetwork, type TestNetwork, taskWith } from "./network.js";

describe("findOwnedStacks against anvil", () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await startNetwork();
  }, 120_000);
  afterAll(() => network.stop());

  it("lists an owner's stacks newest first, on one task when asked, never another owner's", async () => {
    const node = await network.addNode();
    const taskA = await taskWith(network, [node], { securityLevel: SecurityLevel.None });
    const taskB = await taskWith(network, [node], { securityLevel: SecurityLevel.None });
    await network.advance(3_600);
    const [alice, bob] = [await network.account(), await network.account()];
    const buy = (ctx: typeof alice.ctx, taskId: bigint, units: bigint) =>
      buyStack(ctx, { taskId, units, maxPricePerMillion: PRICE, duration: 3_600n });
    const first = await buy(alice.ctx, taskA, 100n);
    await buy(bob.ctx, taskA, 200n);
    const second = await buy(alice.ctx, taskB, 300n);
    const third = await buy(alice.ctx, taskA, 400n);

    const all = await findOwnedStacks(alice.ctx, { owner: alice.account.address });
    expect(all.map((s) => s.stackId)).toEqual([third.stackId, second.stackId, first.stackId]);
    expect(all[0]).toEqual({
      stackId: third.stackId,
      nodeId: node.nodeId,
      taskId: taskA,
      units: 400n,
      expiresAt: third.expiresAt,
    });
    const onA = await findOwnedStacks(alice.ctx, { owner: alice.account.address, taskId: taskA });
    expect(onA.map((s) => s.stackId)).toEqual([third.stackId, first.stackId]);
    const stranger = (await network.account()).account.address;
    expect(await findOwnedStacks(alice.ctx, { owner: stranger })).toEqual([]);
  }, 120_000);
});
