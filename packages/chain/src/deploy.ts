import {
  atomaTokenAbi,
  atomaTokenBytecode,
  atomaVaultAbi,
  atomaVaultBytecode,
  attestationRegistryAbi,
  attestationRegistryBytecode,
  challengeManagerAbi,
  challengeManagerBytecode,
  consensusRequestsAbi,
  consensusRequestsBytecode,
  disputeManagerAbi,
  disputeManagerBytecode,
  disputeSelectionAbi,
  disputeSelectionBytecode,
  emissionScheduleAbi,
  emissionScheduleBytecode,
  exampleConsumerAbi,
  exampleConsumerBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  nodeRegistryAbi,
  nodeRegistryBytecode,
  receiptFraudAbi,
  receiptFraudBytecode,
  settlementDrawAbi,
  settlementDrawBytecode,
  settlementEvidenceAbi,
  settlementEvidenceBytecode,
  settlementManagerAbi,
  settlementManagerBytecode,
  stackManagerAbi,
  stackManagerBytecode,
  taskRegistryAbi,
  taskRegistryBytecode,
  vrfKeyRegistryAbi,
  vrfKeyRegistryBytecode,
} from "@atoma/contracts";
import { type Logger, silentLogger } from "@atoma/core";
import {
  type Abi,
  type Address,
  encodeDeployData,
  type GetContractReturnType,
  getAddress,
  getContract,
  type Hash,
  type Hex,
  keccak256,
  stringToBytes,
  zeroAddress,
} from "viem";
import type { AtomaPublicClient, AtomaWalletClient } from "./clients.js";
import { DeploymentError, TransactionFailedError } from "./errors.js";
import {
  type DeployParameters,
  type DeployRoles,
  type ParameterOverrides,
  resolveParameters,
} from "./parameters.js";
import { describeRevert } from "./revert.js";

/** An echelon governance approves, with the engine fingerprint its nodes compute. */
export interface EchelonApproval {
  echelon: number;
  fingerprint: Hex;
}

export interface PrivateSelectionOptions {
  window: number;
  cap: number;
  committeeWindow?: number | undefined;
  committeeCap?: number | undefined;
}

export interface DeployOptions extends DeployRoles {
  /** Overrides of `devParameters`, section by section. */
  parameters?: ParameterOverrides | undefined;
  /** Echelons approved at deployment (by the admin, when it deploys). No node registers in any other. */
  echelons?: readonly EchelonApproval[] | undefined;
  /**
   * Private self-selection by VRF (issue 16): deploys the VRF key registry and turns it on in the settlement draw,
   * with a window of `window` seconds and at most `cap` self-selected attesters per settlement, and deploys the
   * DisputeSelection wired into the dispute manager: dispute committees select themselves, each draw round within
   * `committeeWindow` seconds (@default window; the contract stretches it to the dispute's commit window when
   * shorter), at most `committeeCap` members (odd, ≤ 15; @default
   * 2·committeeSize + 1, at most 15). Off by default (every draw public).
   */
  privateSelection?: PrivateSelectionOptions | undefined;
  /** Also deploy the example consumer contract of smart-contract requests. @default false */
  exampleConsumer?: boolean | undefined;
  logger?: Logger | undefined;
}

export interface AtomaAddresses {
  AtomaToken: Address;
  NodeRegistry: Address;
  ModelRegistry: Address;
  TaskRegistry: Address;
  AtomaVault: Address;
  StackManager: Address;
  SettlementManager: Address;
  /** Runs the attester draws of settlements (a later block than the settlement). */
  SettlementDraw: Address;
  /** Takes the sampled requests a server posts when an attester cannot fetch its transcript. */
  SettlementEvidence: Address;
  DisputeManager: Address;
  ChallengeManager: Address;
  ConsensusRequests: Address;
  EmissionSchedule: Address;
  /** Proofs from receipts or settled leaves that a node billed what it did not serve. */
  ReceiptFraud: Address;
  /** Confidential nodes' attestation records and the measurements governance allows (security level 3). */
  AttestationRegistry: Address;
  ExampleConsumer?: Address | undefined;
  /** Nodes' VRF keys, when private self-selection is on (`DeployOptions.privateSelection`). */
  VrfKeyRegistry?: Address | undefined;
  /** Dispute committees' private self-selection, wired into the DisputeManager (`DeployOptions.privateSelection`). */
  DisputeSelection?: Address | undefined;
}

const PROTOCOL_ROLE = keccak256(stringToBytes("PROTOCOL_ROLE"));

async function deployOne(
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
  name: string,
  abi: Abi,
  bytecode: Hex,
  args: readonly unknown[],
): Promise<Address> {
  const data = encodeDeployData({ abi, bytecode, args } as never);
  try {
    // A dry run first: a constructor that reverts (a refused parameter) names its error.
    await publicClient.call({ account: walletClient.account, data });
    const hash = await walletClient.deployContract({ abi, bytecode, args } as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress)
      throw new TransactionFailedError(`the deployment of ${name} was mined as ${receipt.status}`);
    return getAddress(receipt.contractAddress);
  } catch (cause) {
    throw new DeploymentError(`deploying ${name} failed`, { cause, details: describeRevert(cause) });
  }
}

async function call(publicClient: AtomaPublicClient, step: string, send: () => Promise<Hash>): Promise<void> {
  try {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await send() });
    if (receipt.status !== "success")
      throw new TransactionFailedError(`${step} was mined as ${receipt.status}`);
  } catch (cause) {
    throw new DeploymentError(`wiring failed at ${step}`, { cause, details: describeRevert(cause) });
  }
}

/**
 * Deploys every Atoma contract in dependency order, links them to each other, and grants each the roles its
 * calls need (PROTOCOL_ROLE between the protocol contracts). The emission schedule comes first: the token names
 * it its only minter at construction and mints the genesis supply once, to the genesis recipient, so no key can
 * mint outside the schedule. The admin holds DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE everywhere and approves the
 * echelons given.
 */
export async function deployContracts(
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
  options: DeployOptions = {},
): Promise<Deployment> {
  const logger = (options.logger ?? silentLogger).child({ module: "deploy" });
  const admin = options.admin ?? walletClient.account.address;
  const treasury = options.treasury ?? admin;
  const genesisRecipient = options.genesisRecipient ?? admin;
  const p: DeployParameters = resolveParameters(options.parameters);
  const deploy = (name: string, abi: Abi, bytecode: Hex, args: readonly unknown[]) =>
    deployOne(publicClient, walletClient, name, abi, bytecode, args);

  const emission = await deploy("EmissionSchedule", emissionScheduleAbi, emissionScheduleBytecode, [
    admin,
    p.emission,
  ]);
  const token = await deploy("AtomaToken", atomaTokenAbi, atomaTokenBytecode, [
    emission,
    genesisRecipient,
    p.token.genesisSupply,
  ]);
  const nodes = await deploy("NodeRegistry", nodeRegistryAbi, nodeRegistryBytecode, [
    admin,
    token,
    p.epochLength,
    p.node,
  ]);
  const models = await deploy("ModelRegistry", modelRegistryAbi, modelRegistryBytecode, [
    admin,
    token,
    nodes,
    p.model,
  ]);
  const tasks = await deploy("TaskRegistry", taskRegistryAbi, taskRegistryBytecode, [
    admin,
    nodes,
    models,
    p.task,
  ]);
  const attestations = await deploy(
    "AttestationRegistry",
    attestationRegistryAbi,
    attestationRegistryBytecode,
    [admin, nodes, p.attestation.maxValidity],
  );
  const vault = await deploy("AtomaVault", atomaVaultAbi, atomaVaultBytecode, [
    admin,
    token,
    nodes,
    treasury,
    p.vault.feeBurnBps,
  ]);
  const stacks = await deploy("StackManager", stackManagerAbi, stackManagerBytecode, [
    admin,
    tasks,
    nodes,
    models,
    vault,
    p.stack,
  ]);
  const settlement = await deploy("SettlementManager", settlementManagerAbi, settlementManagerBytecode, [
    admin,
    stacks,
    tasks,
    nodes,
    models,
    vault,
    p.settlement,
  ]);
  const settlementDraw = await deploy("SettlementDraw", settlementDrawAbi, settlementDrawBytecode, [
    admin,
    settlement,
    stacks,
    tasks,
    nodes,
  ]);
  const settlementEvidence = await deploy(
    "SettlementEvidence",
    settlementEvidenceAbi,
    settlementEvidenceBytecode,
    [admin, settlement, stacks, nodes, p.evidence.maxRequestBytes],
  );
  const disputes = await deploy("DisputeManager", disputeManagerAbi, disputeManagerBytecode, [
    admin,
    nodes,
    tasks,
    stacks,
    settlement,
    p.dispute,
  ]);
  const receiptFraud = await deploy("ReceiptFraud", receiptFraudAbi, receiptFraudBytecode, [
    admin,
    stacks,
    nodes,
    settlement,
  ]);
  const challenges = await deploy("ChallengeManager", challengeManagerAbi, challengeManagerBytecode, [
    admin,
    nodes,
    stacks,
    settlement,
    p.challenge,
  ]);
  const consensus = await deploy("ConsensusRequests", consensusRequestsAbi, consensusRequestsBytecode, [
    admin,
    tasks,
    nodes,
    models,
    vault,
    disputes,
    p.consensus,
  ]);
  const addresses: AtomaAddresses = {
    AtomaToken: token,
    NodeRegistry: nodes,
    ModelRegistry: models,
    TaskRegistry: tasks,
    AtomaVault: vault,
    StackManager: stacks,
    SettlementManager: settlement,
    SettlementDraw: settlementDraw,
    SettlementEvidence: settlementEvidence,
    DisputeManager: disputes,
    ChallengeManager: challenges,
    ConsensusRequests: consensus,
    EmissionSchedule: emission,
    ReceiptFraud: receiptFraud,
    AttestationRegistry: attestations,
  };

  if (options.privateSelection) {
    const selection = options.privateSelection;
    addresses.VrfKeyRegistry = await deploy("VrfKeyRegistry", vrfKeyRegistryAbi, vrfKeyRegistryBytecode, [
      nodes,
    ]);
    addresses.DisputeSelection = await deploy(
      "DisputeSelection",
      disputeSelectionAbi,
      disputeSelectionBytecode,
      [
        disputes,
        addresses.VrfKeyRegistry,
        BigInt(selection.committeeWindow ?? selection.window),
        selection.committeeCap ?? Math.min(15, 2 * p.dispute.committeeSize + 1),
      ],
    );
  }

  // Wiring needs the admin's roles: when the admin is not the deployer, the admin wires it with `wireContracts`.
  if (admin.toLowerCase() === walletClient.account.address.toLowerCase()) {
    await wireContracts(publicClient, walletClient, addresses);
    const c = atomaContracts(addresses, publicClient, walletClient);
    if (p.attestation.devNetwork) {
      await call(publicClient, "AttestationRegistry.setDevNetwork", () =>
        c.attestationRegistry.write.setDevNetwork([true]),
      );
    }
    for (const { echelon, fingerprint } of options.echelons ?? []) {
      await call(publicClient, `NodeRegistry.approveEchelon(${echelon})`, () =>
        c.nodeRegistry.write.approveEchelon([echelon, fingerprint]),
      );
    }
  }
  if (options.privateSelection) {
    const { window, cap } = options.privateSelection;
    const registry = addresses.VrfKeyRegistry as Address;
    await call(publicClient, "SettlementDraw.setPrivateSelection", () =>
      atomaContracts(addresses, publicClient, walletClient).settlementDraw.write.setPrivateSelection([
        registry,
        BigInt(window),
        cap,
      ]),
    );
  }
  if (options.exampleConsumer) {
    addresses.ExampleConsumer = await deploy("ExampleConsumer", exampleConsumerAbi, exampleConsumerBytecode, [
      consensus,
      token,
      vault,
    ]);
  }
  logger.debug({ addresses }, "contract addresses");
  logger.info({ contracts: Object.keys(addresses).length }, "contracts deployed");
  return { addresses, parameters: p, contracts: atomaContracts(addresses, publicClient, walletClient) };
}

/** Links the contracts to each other and grants the roles between them; the wallet must hold the admin roles. */
export async function wireContracts(
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
  a: AtomaAddresses,
): Promise<void> {
  const c = atomaContracts(a, publicClient, walletClient);
  const step = (name: string, send: () => Promise<Hash>) => call(publicClient, name, send);
  await step("EmissionSchedule.wire", () =>
    c.emissionSchedule.write.wire([a.AtomaToken, a.AtomaVault, a.NodeRegistry]),
  );
  await step("NodeRegistry.wire", () => c.nodeRegistry.write.wire([a.TaskRegistry, a.AtomaVault]));
  await step("SettlementManager.wire", () =>
    c.settlementManager.write.wire([a.DisputeManager, a.SettlementDraw, a.SettlementEvidence]),
  );
  await step("DisputeManager.wire", () =>
    c.disputeManager.write.wire([a.ConsensusRequests, a.DisputeSelection ?? zeroAddress]),
  );
  await step("StackManager.wire", () => c.stackManager.write.wire([a.SettlementManager]));
  await step("TaskRegistry.wireAttestations", () =>
    c.taskRegistry.write.wireAttestations([a.AttestationRegistry]),
  );
  await step("AttestationRegistry.wireStacks", () =>
    c.attestationRegistry.write.wireStacks([a.StackManager]),
  );
  const grants: [
    string,
    { write: { grantRole: (args: readonly [Hex, Address]) => Promise<Hash> } },
    Hex,
    Address,
  ][] = [
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.StackManager],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.SettlementManager],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.DisputeManager],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.ChallengeManager],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.ConsensusRequests],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.TaskRegistry],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.AttestationRegistry],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.SettlementDraw],
    ["TaskRegistry", c.taskRegistry, PROTOCOL_ROLE, a.NodeRegistry],
    ["TaskRegistry", c.taskRegistry, PROTOCOL_ROLE, a.StackManager],
    ["AtomaVault", c.vault, PROTOCOL_ROLE, a.NodeRegistry],
    ["AtomaVault", c.vault, PROTOCOL_ROLE, a.StackManager],
    ["AtomaVault", c.vault, PROTOCOL_ROLE, a.SettlementManager],
    ["AtomaVault", c.vault, PROTOCOL_ROLE, a.ConsensusRequests],
    ["StackManager", c.stackManager, PROTOCOL_ROLE, a.SettlementManager],
    ["SettlementManager", c.settlementManager, PROTOCOL_ROLE, a.DisputeManager],
    ["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.ReceiptFraud],
    ["SettlementManager", c.settlementManager, PROTOCOL_ROLE, a.ReceiptFraud],
    ["SettlementManager", c.settlementManager, PROTOCOL_ROLE, a.ChallengeManager],
    ["SettlementDraw", c.settlementDraw, PROTOCOL_ROLE, a.SettlementManager],
  ];
  // A silent selected committee member is slashable (`DisputeSelection.reportSilentSelection`).
  if (a.DisputeSelection) grants.push(["NodeRegistry", c.nodeRegistry, PROTOCOL_ROLE, a.DisputeSelection]);
  for (const [name, contract, role, account] of grants) {
    await step(`${name}.grantRole`, () => contract.write.grantRole([role, account]));
  }
}

type Clients = { public: AtomaPublicClient; wallet: AtomaWalletClient };

/** Typed viem contract instances of the deployment. */
export interface AtomaContracts {
  token: GetContractReturnType<typeof atomaTokenAbi, Clients>;
  nodeRegistry: GetContractReturnType<typeof nodeRegistryAbi, Clients>;
  modelRegistry: GetContractReturnType<typeof modelRegistryAbi, Clients>;
  taskRegistry: GetContractReturnType<typeof taskRegistryAbi, Clients>;
  vault: GetContractReturnType<typeof atomaVaultAbi, Clients>;
  stackManager: GetContractReturnType<typeof stackManagerAbi, Clients>;
  settlementManager: GetContractReturnType<typeof settlementManagerAbi, Clients>;
  settlementDraw: GetContractReturnType<typeof settlementDrawAbi, Clients>;
  settlementEvidence: GetContractReturnType<typeof settlementEvidenceAbi, Clients>;
  disputeManager: GetContractReturnType<typeof disputeManagerAbi, Clients>;
  challengeManager: GetContractReturnType<typeof challengeManagerAbi, Clients>;
  consensusRequests: GetContractReturnType<typeof consensusRequestsAbi, Clients>;
  emissionSchedule: GetContractReturnType<typeof emissionScheduleAbi, Clients>;
  receiptFraud: GetContractReturnType<typeof receiptFraudAbi, Clients>;
  attestationRegistry: GetContractReturnType<typeof attestationRegistryAbi, Clients>;
}

export interface Deployment {
  addresses: AtomaAddresses;
  parameters: DeployParameters;
  contracts: AtomaContracts;
}

/** Typed contract instances over already-deployed addresses. */
export function atomaContracts(
  addresses: AtomaAddresses,
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
): AtomaContracts {
  const client = { public: publicClient, wallet: walletClient };
  return {
    token: getContract({ address: addresses.AtomaToken, abi: atomaTokenAbi, client }),
    nodeRegistry: getContract({ address: addresses.NodeRegistry, abi: nodeRegistryAbi, client }),
    modelRegistry: getContract({ address: addresses.ModelRegistry, abi: modelRegistryAbi, client }),
    taskRegistry: getContract({ address: addresses.TaskRegistry, abi: taskRegistryAbi, client }),
    vault: getContract({ address: addresses.AtomaVault, abi: atomaVaultAbi, client }),
    stackManager: getContract({ address: addresses.StackManager, abi: stackManagerAbi, client }),
    settlementManager: getContract({
      address: addresses.SettlementManager,
      abi: settlementManagerAbi,
      client,
    }),
    settlementDraw: getContract({ address: addresses.SettlementDraw, abi: settlementDrawAbi, client }),
    settlementEvidence: getContract({
      address: addresses.SettlementEvidence,
      abi: settlementEvidenceAbi,
      client,
    }),
    disputeManager: getContract({ address: addresses.DisputeManager, abi: disputeManagerAbi, client }),
    challengeManager: getContract({
      address: addresses.ChallengeManager,
      abi: challengeManagerAbi,
      client,
    }),
    consensusRequests: getContract({
      address: addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      client,
    }),
    emissionSchedule: getContract({ address: addresses.EmissionSchedule, abi: emissionScheduleAbi, client }),
    receiptFraud: getContract({ address: addresses.ReceiptFraud, abi: receiptFraudAbi, client }),
    attestationRegistry: getContract({
      address: addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      client,
    }),
  };
}
