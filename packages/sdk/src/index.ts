export { StreamAssembler } from "./assembleStream.js";
export { checkReceiptSequence, type SequenceContext } from "./checkReceiptSequence.js";
export {
  type AtomaAnswer,
  type AtomaClient,
  type AtomaClientOptions,
  createAtomaClient,
  type DirectClientOptions,
  type GatewayClientOptions,
  type NetworkInput,
} from "./client/atomaClient.js";
export { gatewayBuyer } from "./client/gatewayBuyer.js";
export type { GatewayConfidentialChoice } from "./client/gatewaySealedClient.js";
export type { LowerLevelNotice, NodePreferences, NodeSort, StackPreferences } from "./client/nodeChoice.js";
export { closedEarly, falseSpentClaim, STACK_SPENT } from "./client/spentClaim.js";
export { EXPLORE_SHARE, SLOW_SHARE } from "./client/throughputRank.js";
export {
  closeUnprovenReported,
  closeUnprovenStack,
  type ExhaustionClaimCheck,
  exhaustionClaimSettled,
  type UnprovenExhaustion,
} from "./client/unprovenExhaustion.js";
export {
  closeStalledStack,
  WITHHELD_ASIDE_MS,
  type WithheldReceipt,
  withholdingProven,
} from "./client/withheldReceipt.js";
export {
  type AttestationCheck,
  type AttestationCheckName,
  AttestationRefusedError,
  AttestationUnavailableError,
  type AttestationVerdict,
  attestationLine,
  type ConfidentialClientErrorCode,
  SealedAnswerError,
} from "./confidential/attestationVerdict.js";
export {
  type AttestComponents,
  type AttestPolicy,
  type AttestTarget,
  attestNode,
} from "./confidential/attestNode.js";
export type { ConfidentialOptions, GpuPolicy } from "./confidential/confidentialOptions.js";
export type { SdkErrorCode, SdkLocalErrorCode } from "./errorCodes.js";
export {
  AdoptedAuditInterruptedError,
  AnswerTooLargeError,
  AnswerUnverifiedError,
  ChallengeBondsShortError,
  ClientArgumentError,
  DeploymentBlockError,
  GatewayRequestError,
  LeafEquivocationError,
  LeafUnreadableError,
  ModelTasksCrowdedError,
  NodeDeniedLeafError,
  NodeMisbehavedError,
  NodeRequestError,
  NodeUnreachableError,
  NoNodeOfferedError,
  NonceGapError,
  ReceiptWithheldError,
  ResendInFlightError,
  ResponseVerificationError,
  RunningTotalError,
  SealedNonceMovedError,
  SecurityLevelUnknownError,
  StateFileBusyError,
  UnhashableStreamError,
  UnitsMismatchError,
  UnitsOverSignedError,
  UsageMismatchError,
  VerifyArgumentError,
} from "./errors.js";
export { findKeptReceiptFraud } from "./keptReceiptFraud.js";
export { type Network, NetworkDescriptionError, parseNetwork, readContext, userContext } from "./network.js";
export { readBodyCapped, readJsonCapped } from "./readBodyCapped.js";
export { readSse, type SseLimits } from "./readSse.js";
export {
  LEAF_READ_SIGN_AHEAD_SECONDS,
  readStackLeaf,
  type ShownLeaf,
  type StackLeafRead,
} from "./readStackLeaf.js";
export { claimRefunds, type RefundOutcome } from "./refunds/claimRefunds.js";
export {
  type KeptStatement,
  MAX_POSTED_PER_NODE_EPOCH,
  MAX_UNPOSTED_PER_NODE_EPOCH,
  StatementKeeper,
  statementBinding,
  statementOfAnswer,
} from "./refunds/statementKeeper.js";
export { statementSigner } from "./refunds/statementSigner.js";
export { DEFAULT_MAX_TOKENS, requestUnitBound } from "./requestUnitBound.js";
export {
  type AnswerRead,
  type KeptReceipt,
  type LeafReadEscalation,
  type PendingRequest,
  type ReceiptVerdict,
  type RequestOptions,
  type SignedHash,
  StackClient,
  type StackClientOptions,
  type UnreadLeaf,
  type Verified,
} from "./StackClient.js";
export { type SignedStackRequest, type StackRequest, signStackRequest } from "./signStackRequest.js";
export {
  type BuyTerms,
  boughtStack,
  givenStack,
  type NodePick,
  reusableStack,
  StackUnusableError,
  type UsableStack,
} from "./stackChoice.js";
export { genesisHash } from "./state/genesisHash.js";
export { KeptStacks } from "./state/keptStacks.js";
export {
  NodeThroughput,
  THROUGHPUT_ENTRIES,
  THROUGHPUT_MAX_AGE_MS,
  THROUGHPUT_WINDOW,
  type ThroughputMeasure,
  throughputKey,
} from "./state/nodeThroughput.js";
export {
  adoptedStacksKey,
  type ChallengeClaim,
  CLAIM_STANDS_MS,
  decodeStackState,
  encodeStackState,
  type KeptChallenge,
  type StackPlace,
  type StackState,
  stackStateKey,
  type UnprovenLeaf,
  withClaims,
  withoutClaim,
} from "./state/stackState.js";
export { memoryStateStore, type StateStore } from "./state/stateStore.js";
export { type AdoptedAudit, type AdoptedNotSettled, adoptedLeavesNotSettled } from "./verify/adoptedAudit.js";
export {
  type AdoptedAuditBook,
  auditAdoptedStacks,
  type StackAuditReport,
  type UnprovenEscalation,
} from "./verify/adoptedAuditRun.js";
export {
  type AdoptedChallenge,
  challengeAdoptedNotSettled,
  challengeOrder,
  MAX_CHALLENGES_PER_RUN,
  provenBySignature,
} from "./verify/challengeAdopted.js";
export { checkedFromBlock, deploymentBlockError } from "./verify/deploymentBlock.js";
export { fetchLeafProof } from "./verify/fetchLeafProof.js";
export { checkedKeptReceipts, type RejectedKeptReceipt } from "./verify/keptReceiptCheck.js";
export { highestLevelOnOffer } from "./verify/levelOnOffer.js";
export { TASK_LOG_CONFIRMATIONS } from "./verify/modelTaskLogs.js";
export {
  MAX_MODEL_TASKS,
  SERVING_ROLES,
  type ServedTask,
  type ServingTerms,
  servedTasks,
} from "./verify/modelTasks.js";
export { servingSecurityLevel } from "./verify/servingLevel.js";
export { memoryTaskLogStore, type TaskLogStore } from "./verify/taskLogCache.js";
export {
  type Check,
  type CheckedProof,
  type CheckName,
  type CheckStatus,
  type SettlementState,
  type Verdict,
  type VerifyAsked,
  type VerifyFailureCode,
  verdictLine,
} from "./verify/verdict.js";
export type { VerifyChain, VerifyOptions } from "./verify/verifyArguments.js";
export { verifyChainFromRpc, verifyChainOf } from "./verify/verifyChain.js";
export { verifyResponse } from "./verify/verifyResponse.js";
export { type ReceiptExpectations, verifyReceipt } from "./verifyReceipt.js";
