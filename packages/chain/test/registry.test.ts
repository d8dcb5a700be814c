import { TaskSecurityLevel as SecurityLevel } from "@atoma/contracts";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTask, TaskRole } from "../src/actions/createTask.js";
import { deregisterNode, topUpCollateral, withdrawCollateral } from "../src/actions/manageNode.js";
import { reportWeightsMismatch } from "../src/actions/registerModel.js";
import { registerNode } from "../src/actions/registerNode.js";
import { completeExit, subscribe, unsubscribe, updateSubscription } from "../src/actions/subscribe.js";
import { devParameters } from "../src/parameters.js";
import { PRICE, startNetwork, type TestNetwork } from "./network.js";

describe("registry flows against anvil", () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await startNetwork({ model: { mismatchThreshold: 2 } });
  });
  afterAll(() => network.stop());

  it("registers a node with collateral, eligible from the next epoch, and names a short stake", async () => {
    const { contracts } = network.deployment;
    const node = await network.addNode({ echelon: 3 });
    const info = await contracts.nodeRegistry.read.getNode([node.nodeId]);
    expect(info.collateral).toBe(parseEther("1000"));
    expect(info.echelon).toBe(3);
    expect(info.signer).toBe(node.signerAccount.address);
    expect(await contracts.nodeRegistry.read.isEligible([node.nodeId])).toBe(false);
    await network.advance(3_600);
    expect(await contracts.nodeRegistry.read.isEligible([node.nodeId])).toBe(true);

    const poor = await network.account();
    await expect(
      registerNode(poor.ctx, { signer: poor.account, url: "http://x", echelon: 1, collateral: 1n }),
    ).rejects.toMatchObject({ code: "contract_reverted", errorName: "CollateralTooLow" });
    await expect(
      registerNode(poor.ctx, {
        signer: node.signerAccount,
        url: "http://x",
        echelon: 1,
        collateral: parseEther("1000"),
      }),
    ).rejects.toMatchObject({ errorName: "SignerInUse" });
    const topped = await topUpCollateral(node.operator, { nodeId: node.nodeId, amount: parseEther("5") });
    expect(topped.collateral).toBe(parseEther("1005"));
  });

  it("creates tasks with bounded verification, confidential ones without sampling parameters", async () => {
    const { taskId } = await createTask(network.admin, {
      modelId: network.modelId,
      role: TaskRole.Chat,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 8_000,
      attesters: 1,
      sampleSize: 4,
    });
    const task = await network.deployment.contracts.taskRegistry.read.getTask([taskId]);
    expect(task.replicationPpm).toBe(8_000);
    await expect(
      createTask(network.admin, {
        modelId: network.modelId,
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.CrossValidation,
        replicationPpm: 100,
        attesters: 1,
        sampleSize: 4,
      }),
    ).rejects.toMatchObject({ errorName: "InvalidVerification" });
    await expect(
      createTask(network.admin, {
        modelId: network.modelId,
        role: 0,
        securityLevel: SecurityLevel.Confidential,
        replicationPpm: 8_000,
        attesters: 1,
        sampleSize: 4,
      }),
    ).rejects.toMatchObject({ errorName: "InvalidVerification" });
    const confidential = await createTask(network.admin, {
      modelId: network.modelId,
      role: 0,
      securityLevel: SecurityLevel.Confidential,
    });
    expect(
      (await network.deployment.contracts.taskRegistry.read.getTask([confidential.taskId])).securityLevel,
    ).toBe(SecurityLevel.Confidential);
  });

  it("subscribes, updates, unsubscribes with an exit notice; deregisters once every exit is complete; collateral returns a notice later", async () => {
    const { contracts } = network.deployment;
    const node = await network.addNode();
    const a = (await createTask(network.admin, { modelId: network.modelId, role: 0, securityLevel: 0 }))
      .taskId;
    const b = (await createTask(network.admin, { modelId: network.modelId, role: 1, securityLevel: 0 }))
      .taskId;
    await subscribe(node.signer, {
      taskId: a,
      nodeId: node.nodeId,
      pricePerMillion: PRICE,
      capacity: 1_000n,
    });
    await subscribe(node.operator, {
      taskId: b,
      nodeId: node.nodeId,
      pricePerMillion: PRICE,
      capacity: 1_000n,
    });
    await updateSubscription(node.signer, {
      taskId: a,
      nodeId: node.nodeId,
      pricePerMillion: 3n,
      capacity: 9n,
    });
    expect((await contracts.taskRegistry.read.getSubscription([a, node.nodeId])).pricePerMillion).toBe(3n);
    const notice = await contracts.taskRegistry.read.exitNotice();
    expect(notice).toBe(devParameters.task.exitNotice);
    const { exitAt } = await unsubscribe(node.signer, { taskId: a, nodeId: node.nodeId });
    expect(exitAt).toBe((await network.now()) + notice);
    await expect(unsubscribe(node.signer, { taskId: a, nodeId: node.nodeId })).rejects.toMatchObject({
      errorName: "NotSubscribed",
    });
    await unsubscribe(node.operator, { taskId: b, nodeId: node.nodeId });
    // Leaving is not instant: no deregistration while a subscription is in its notice, no early completion.
    await expect(deregisterNode(node.operator, { nodeId: node.nodeId })).rejects.toMatchObject({
      errorName: "SubscriptionsLeft",
    });
    await expect(completeExit(node.operator, { taskId: a, nodeId: node.nodeId })).rejects.toMatchObject({
      errorName: "ExitNoticeRunning",
      args: [a, node.nodeId, exitAt],
    });
    await network.advance(notice);
    // Anyone completes an exit whose notice is over.
    const anyone = await network.account();
    await completeExit(anyone.ctx, { taskId: a, nodeId: node.nodeId });
    await completeExit(anyone.ctx, { taskId: b, nodeId: node.nodeId });
    expect(await contracts.taskRegistry.read.tasksOf([node.nodeId])).toEqual([]);
    const { withdrawableAt } = await deregisterNode(node.operator, { nodeId: node.nodeId });
    expect(withdrawableAt).toBe((await network.now()) + notice);
    await expect(withdrawCollateral(node.operator, { nodeId: node.nodeId })).rejects.toMatchObject({
      errorName: "WithdrawalTooEarly",
      args: [node.nodeId, withdrawableAt],
    });
    await network.advance(notice);
    const { amount } = await withdrawCollateral(node.operator, { nodeId: node.nodeId });
    expect(amount).toBe(parseEther("1000"));
  });

  it("disables a model after K distinct nodes report a weights mismatch", async () => {
    const { contracts } = network.deployment;
    const first = await network.addNode();
    const second = await network.addNode();
    const one = await reportWeightsMismatch(first.signer, { modelId: network.modelId, nodeId: first.nodeId });
    expect(one).toMatchObject({ reports: 1, disabled: false });
    await expect(
      reportWeightsMismatch(first.operator, { modelId: network.modelId, nodeId: first.nodeId }),
    ).rejects.toMatchObject({ errorName: "AlreadyReported" });
    const two = await reportWeightsMismatch(second.signer, {
      modelId: network.modelId,
      nodeId: second.nodeId,
    });
    expect(two).toMatchObject({ reports: 2, disabled: true });
    expect(await contracts.modelRegistry.read.isActive([network.modelId])).toBe(false);
    await expect(
      createTask(network.admin, { modelId: network.modelId, role: 0, securityLevel: 0 }),
    ).rejects.toMatchObject({ errorName: "ModelNotActive" });
  });
});
