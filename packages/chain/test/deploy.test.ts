import { artifacts } from "@atoma/contracts";
import { keccak256, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execute } from "../src/actions/execute.js";
import { startAnvil } from "../src/anvil/startAnvil.js";
import { createAtomaPublicClient, createAtomaWalletClient, devAccounts } from "../src/clients.js";
import { deployContracts } from "../src/deploy.js";
import { ContractRevertError } from "../src/errors.js";
import { devParameters, emissionBounds } from "../src/parameters.js";
import { startNetwork, type TestNetwork } from "./network.js";

const PROTOCOL_ROLE = keccak256(stringToBytes("PROTOCOL_ROLE"));

describe("deployContracts", () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await startNetwork();
  });
  afterAll(() => network.stop());

  it("deploys every contract under the EIP-170 limit and wires them to each other", async () => {
    const { addresses, contracts } = network.deployment;
    const { publicClient } = network.admin;
    for (const [name, address] of Object.entries(addresses)) {
      const code = await publicClient.getCode({ address: address! });
      expect(code, name).toMatch(/^0x[0-9a-f]+$/);
      expect((code!.length - 2) / 2, name).toBeLessThanOrEqual(24_576);
    }
    expect(await contracts.nodeRegistry.read.taskRegistry()).toBe(addresses.TaskRegistry);
    expect(await contracts.nodeRegistry.read.vault()).toBe(addresses.AtomaVault);
    expect(await contracts.settlementManager.read.disputeManager()).toBe(addresses.DisputeManager);
    expect(await contracts.disputeManager.read.consensus()).toBe(addresses.ConsensusRequests);
    expect(await contracts.vault.read.hasRole([PROTOCOL_ROLE, addresses.StackManager])).toBe(true);
    expect(await contracts.vault.read.hasRole([PROTOCOL_ROLE, addresses.NodeRegistry])).toBe(true);
    expect(await contracts.nodeRegistry.read.hasRole([PROTOCOL_ROLE, addresses.DisputeManager])).toBe(true);
    // A selected node that stayed silent is slashed by the draw itself (`SettlementDraw.reportSilentSelection`).
    expect(await contracts.nodeRegistry.read.hasRole([PROTOCOL_ROLE, addresses.SettlementDraw])).toBe(true);
    expect(await contracts.stackManager.read.hasRole([PROTOCOL_ROLE, addresses.SettlementManager])).toBe(
      true,
    );
    expect(await contracts.token.read.minter()).toBe(addresses.EmissionSchedule);
    expect(await contracts.emissionSchedule.read.token()).toBe(addresses.AtomaToken);
    expect(await contracts.nodeRegistry.read.hasRole([PROTOCOL_ROLE, addresses.TaskRegistry])).toBe(true);
    // refundUnposted reads the stacks it refunds from the stack manager.
    expect(await contracts.attestationRegistry.read.stacks()).toBe(addresses.StackManager);
    // reportUnposted slashes a node caught serving evidence it never posted.
    expect(await contracts.nodeRegistry.read.hasRole([PROTOCOL_ROLE, addresses.AttestationRegistry])).toBe(
      true,
    );
    expect(
      await contracts.vault.read.hasRole([PROTOCOL_ROLE, network.admin.walletClient.account.address]),
    ).toBe(false);
  });

  it("applies the documented dev parameters", async () => {
    const { contracts } = network.deployment;
    expect(await contracts.nodeRegistry.read.EPOCH_LENGTH()).toBe(devParameters.epochLength);
    const [minCollateral] = await contracts.nodeRegistry.read.params();
    expect(minCollateral).toBe(devParameters.node.minCollateral);
    expect(await contracts.emissionSchedule.read.emissionFor([0n])).toBe(
      devParameters.emission.initialEmission,
    );
    expect(Object.keys(artifacts)).toContain("ExampleConsumer");
    expect(await contracts.vault.read.feeBurnBps()).toBe(devParameters.vault.feeBurnBps);
    // The worst parameters the wash-trading analysis and `econ simulate --self-dealing --worst` assume.
    expect(await contracts.vault.read.MAX_FEE_BURN_BPS()).toBe(emissionBounds.maxFeeBurnBps);
    expect(await contracts.emissionSchedule.read.MAX_EMISSION_PER_BURN_BPS()).toBe(
      BigInt(emissionBounds.maxEmissionPerBurnBps),
    );
    expect(await contracts.emissionSchedule.read.MAX_STAKE_YIELD_BPS()).toBe(
      BigInt(emissionBounds.maxStakeYieldBps),
    );
  });

  it("names the parameter governance may not set", async () => {
    const { contracts } = network.deployment;
    const [, honestReward, timeoutPenalty] = await contracts.nodeRegistry.read.params();
    const { nodeRegistryAbi } = await import("@atoma/contracts");
    const error = await execute(network.admin, {
      address: network.deployment.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "setParams",
      args: [
        {
          minCollateral: 1n,
          honestReward,
          timeoutPenalty,
          timeoutSlashBps: 9_000,
          timeoutUserBps: 0,
          timeoutTreasuryBps: 0,
          fraudUserBps: 0,
          fraudHonestBps: 0,
          fraudTreasuryBps: 0,
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractRevertError);
    expect(error).toMatchObject({ errorName: "ParameterOutOfBounds", args: ["timeoutSlashBps", 9_000n] });
  });
});

describe("deployContracts with bad parameters", () => {
  it("fails with a DeploymentError that names the contract and the refused parameter", async () => {
    const anvil = await startAnvil();
    try {
      const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
      const [deployer] = await devAccounts(chain);
      const wallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
      const failure = deployContracts(createAtomaPublicClient(chain), wallet, {
        parameters: { stack: { surchargeBps: 9_999 }, node: { minCollateral: parseEther("1") } },
      });
      await expect(failure).rejects.toMatchObject({
        code: "deployment_failed",
        shortMessage: "deploying StackManager failed",
        details: 'ParameterOutOfBounds("surchargeBps", 9999)',
      });
    } finally {
      await anvil.stop();
    }
  });

  it("exports the revert error class the actions throw", () => {
    expect(new ContractRevertError("f", "E", []).code).toBe("contract_reverted");
  });
});
