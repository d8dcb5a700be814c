import { signSignerBinding } from "@atoma/core";
import { keccak256, parseEther, stringToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTask } from "../src/actions/createTask.js";
import { approveEchelon, echelonFingerprint, nodeEchelonFingerprint } from "../src/actions/echelons.js";
import { execute } from "../src/actions/execute.js";
import { registerNode } from "../src/actions/registerNode.js";
import { minSubscriptionCollateral, setSubscriptionCollateral, subscribe } from "../src/actions/subscribe.js";
import { SignerProofMissingError } from "../src/errors.js";
import { PRICE, startNetwork, type TestNetwork } from "./network.js";

describe("registry defences against anvil", () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await startNetwork();
  });
  afterAll(() => network.stop());

  it("refuses to register a signing key for an operator the key did not sign for", async () => {
    const victim = privateKeyToAccount(generatePrivateKey());
    const squatter = await network.account();
    const honest = await network.account();
    const chainId = await network.admin.publicClient.getChainId();
    const registry = network.deployment.addresses.NodeRegistry;
    const params = { url: "http://x", echelon: 1, collateral: parseEther("1000") };
    await expect(registerNode(squatter.ctx, { ...params, signer: victim.address })).rejects.toBeInstanceOf(
      SignerProofMissingError,
    );
    // The proof the victim gave its own operator, copied by the squatter: bound to the other operator.
    const proof = await signSignerBinding(victim, { chainId, registry, operator: honest.account.address });
    await expect(
      registerNode(squatter.ctx, { ...params, signer: victim.address, signerProof: proof }),
    ).rejects.toMatchObject({ code: "contract_reverted", errorName: "InvalidSignerProof" });
    const { nodeId } = await registerNode(honest.ctx, {
      ...params,
      signer: victim.address,
      signerProof: proof,
    });
    const node = await network.deployment.contracts.nodeRegistry.read.getNode([nodeId]);
    expect(node).toMatchObject({ signer: victim.address, operator: honest.account.address, reputation: 0 });
  });

  it("admits nodes only to approved echelons, each recording its engine fingerprint", async () => {
    const operator = await network.account();
    await expect(
      registerNode(operator.ctx, {
        signer: operator.account,
        url: "http://x",
        echelon: 7,
        collateral: parseEther("1000"),
      }),
    ).rejects.toMatchObject({ errorName: "EchelonNotApproved", args: [7] });
    expect(await echelonFingerprint(network.admin, 7)).toBeUndefined();
    const fingerprint = keccak256(stringToBytes("a machine of echelon 7"));
    await approveEchelon(network.admin, { echelon: 7, fingerprint });
    await expect(approveEchelon(operator.ctx, { echelon: 7, fingerprint })).rejects.toMatchObject({
      code: "contract_reverted",
    });
    const { nodeId } = await registerNode(operator.ctx, {
      signer: operator.account,
      url: "http://x",
      echelon: 7,
      collateral: parseEther("1000"),
    });
    expect(await nodeEchelonFingerprint(network.admin, nodeId)).toBe(fingerprint);
  });

  it("bonds each subscription's collateral out of the stake, so one stake backs a bounded number", async () => {
    const node = await network.addNode();
    const minimum = await minSubscriptionCollateral(network.admin);
    expect(minimum).toBe(parseEther("100"));
    const tasks: bigint[] = [];
    for (let i = 0; i < 3; i++)
      tasks.push(
        (await createTask(network.admin, { modelId: network.modelId, role: 0, securityLevel: 0 })).taskId,
      );
    const offer = { nodeId: node.nodeId, pricePerMillion: PRICE, capacity: 10n ** 9n };
    await subscribe(node.signer, { ...offer, taskId: tasks[0]!, collateral: parseEther("600") });
    await subscribe(node.signer, { ...offer, taskId: tasks[1]! });
    expect(await network.deployment.contracts.nodeRegistry.read.bonded([node.nodeId])).toBe(
      parseEther("700"),
    );
    await expect(
      subscribe(node.signer, { ...offer, taskId: tasks[2]!, collateral: parseEther("301") }),
    ).rejects.toMatchObject({ errorName: "CollateralNotFree" });
    await setSubscriptionCollateral(node.signer, {
      taskId: tasks[0]!,
      nodeId: node.nodeId,
      collateral: minimum,
    });
    await subscribe(node.signer, { ...offer, taskId: tasks[2]!, collateral: parseEther("301") });
  });

  it("leaves nobody, the deployer included, able to mint", async () => {
    const { contracts, addresses } = network.deployment;
    const error = await execute(network.admin, {
      address: addresses.AtomaToken,
      abi: (await import("@atoma/contracts")).atomaTokenAbi,
      functionName: "mint",
      args: [network.admin.walletClient.account.address, 1n],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "contract_reverted", errorName: "NotMinter" });
    expect(await contracts.token.read.minter()).toBe(addresses.EmissionSchedule);
  });
});
