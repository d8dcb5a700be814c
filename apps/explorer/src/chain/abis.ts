import {
  atomaVaultAbi,
  challengeManagerAbi,
  disputeManagerAbi,
  modelRegistryAbi,
  nodeRegistryAbi,
  receiptFraudAbi,
  settlementDrawAbi,
  settlementManagerAbi,
  stackManagerAbi,
  taskRegistryAbi,
} from "@atoma/contracts";

/** Every contract whose events the explorer reads, by its name in the network description. */
export const watchedContracts = {
  NodeRegistry: nodeRegistryAbi,
  TaskRegistry: taskRegistryAbi,
  ModelRegistry: modelRegistryAbi,
  StackManager: stackManagerAbi,
  SettlementManager: settlementManagerAbi,
  SettlementDraw: settlementDrawAbi,
  DisputeManager: disputeManagerAbi,
  ChallengeManager: challengeManagerAbi,
  AtomaVault: atomaVaultAbi,
  ReceiptFraud: receiptFraudAbi,
} as const;

export type WatchedContract = keyof typeof watchedContracts;
