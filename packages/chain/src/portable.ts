/** Everything of @atoma/chain that runs in any JavaScript runtime, browsers included: no anvil launcher. */
// The contracts' enums (generated from their sources) and the ABIs of the contracts whose events a node follows.
export {
  AttestationStanding,
  attestationRegistryAbi,
  ChallengeStatus,
  ConsensusRequestStatus,
  challengeManagerAbi,
  consensusRequestsAbi,
  DisputeKind,
  DisputeOutcome,
  DisputeStatus,
  disputeManagerAbi,
  disputeSelectionAbi,
  ModelStatus,
  NodeStatus,
  nodeRegistryAbi,
  SettlementPhase,
  StackStatus,
  settlementDrawAbi,
  settlementManagerAbi,
  settlementPhaseNames,
  stackManagerAbi,
  TaskSecurityLevel as SecurityLevel,
  taskRegistryAbi,
} from "@atoma/contracts";
export { ensureAllowance } from "./actions/approve.js";
export {
  type BlockRange,
  findArmedAttesterDraws,
  findArmedNodeDraws,
  readArmedAttesterDraw,
} from "./actions/armedDraws.js";
export {
  type AttestationScope,
  setAllowedMeasurement,
  setDevAttestation,
  setGpuRequired,
} from "./actions/attestationGovernance.js";
export { ballotFromText, ballotToText } from "./actions/ballotText.js";
export {
  type BuyStackParams,
  type BuyStackResult,
  buyStack,
  closeStack,
  type DrawNodeResult,
  drawNode,
  type FrozenPurchase,
  frozenPurchaseOf,
  type NodeCandidate,
  nodeCandidatesOf,
  type OpenedStack,
  requestStack,
  type StackRequest,
  sendPurchase,
  stackRequestOf,
} from "./actions/buyStack.js";
export { type BuyStackFromNodeParams, buyStackFromNode } from "./actions/buyStackFromNode.js";
export {
  type BuyStackFromSetParams,
  type BuyStackFromSetResult,
  buyStackFromSet,
  cancelChoice,
  cheapestMember,
  chooseFromSet,
  type DrawnSetPurchase,
  drawnSetOf,
  requestAndDrawSet,
  requestStackFromSet,
  type SetChooser,
} from "./actions/buyStackFromSet.js";
export {
  answerChallenge,
  type ChallengeResult,
  challengeSettlement,
  getChallenge,
  type ResolvedChallenge,
  resolveChallenge,
} from "./actions/challengeSettlement.js";
export { claimEmission, type EmissionClaim } from "./actions/claimEmission.js";
export { claimNodeFees, claimOwnerFees, withdrawBalance } from "./actions/claimFees.js";
export {
  type CommitAttestationParams,
  commitAttestation,
  sendAttestationCommitment,
} from "./actions/commitAttestation.js";
export { pokeCommitteeSeed, reportSilentCommitteeMember } from "./actions/committeeSeeds.js";
export {
  type CommitteeSelection,
  committeeSelectionOutcome,
  currentCommitteeWindow,
  disputeSelectionOf,
  getCommitteeSelection,
  openCommitteeSelection,
  selfSelectCommittee,
  vrfKeyUsableForDispute,
} from "./actions/committeeSelection.js";
export { committeeWindowCandidates } from "./actions/committeeWindowCandidates.js";
export {
  type ConsensusRoundOutcome,
  type ConsensusSeatResult,
  closeConsensusRound,
  revealConsensusResult,
  sealConsensusResult,
} from "./actions/consensusCommit.js";
export { deliverConsensusResult, timeoutConsensusDelivery } from "./actions/consensusDelivery.js";
export { findConsensusPrompt, readConsensusRequest, readMaxOutputBytes } from "./actions/consensusReads.js";
export {
  type DrawnSeats,
  type DrawOutcome,
  drawConsensusSeats,
  type SubmitConsensusRequestParams,
  submitConsensusRequest,
} from "./actions/consensusRequest.js";
export type { ChainContext, TxInfo } from "./actions/context.js";
export { type CreateTaskParams, createTask, TaskRole } from "./actions/createTask.js";
export {
  findDisputeEvidence,
  readCommittee,
  readDispute,
  readDisputeCandidates,
} from "./actions/disputeReads.js";
export {
  advanceDispute,
  type DisputeStep,
  type DrawResult,
  drawCommittee,
  postDisputeEvidence,
} from "./actions/disputeSteps.js";
export {
  type AttesterDrawOutcome,
  attesterCandidatesOf,
  attesterDrawOutcome,
  type DrawAttestersResult,
  drawAttesters,
  drawAttestersUntilDone,
  FAIL_UNVERIFIABLE,
} from "./actions/drawAttesters.js";
export { dropUnattested } from "./actions/dropUnattested.js";
export { dropUnattestedPeers, type PeerDrop } from "./actions/dropUnattestedPeers.js";
export {
  approveEchelon,
  echelonFingerprint,
  nodeEchelonFingerprint,
  revokeEchelon,
  setNodeEchelon,
} from "./actions/echelons.js";
export { batchesWithin, readMaxEvidenceBytes } from "./actions/evidenceBatches.js";
export { type Call, execute, toCallError } from "./actions/execute.js";
export { feeEpoch } from "./actions/feeEpoch.js";
export { type FinalizedStack, finalizeSettlement } from "./actions/finalizeSettlement.js";
export { findOwnedStacks, type OwnedStack } from "./actions/findOwnedStacks.js";
export { getModel } from "./actions/getModel.js";
export { getNode } from "./actions/getNode.js";
export { getAttesters, getSampledIndices, getSettlement } from "./actions/getSettlement.js";
export { getStack } from "./actions/getStack.js";
export { getSubscription, getTask } from "./actions/getTask.js";
export {
  answerIndexChallenge,
  challengeLeafIndex,
  challengeLeafIndices,
  type IndexChallengeAnswer,
  MAX_INDEX_BATCH,
} from "./actions/indexChallenge.js";
export { latestBlock } from "./actions/latestBlock.js";
export { checkersForListedDraw } from "./actions/listedDraw.js";
export { deregisterNode, topUpCollateral, withdrawCollateral } from "./actions/manageNode.js";
export { nodeIdOfSigner } from "./actions/nodeIdOfSigner.js";
export { offeredNodes } from "./actions/offeredNodes.js";
export {
  type AttestationComparison,
  attestationComparison,
  type OpenAttestationParams,
  openAttestation,
} from "./actions/openAttestation.js";
export {
  type HeldBondsState,
  heldBondsOf,
  heldBondsState,
  payHeldBonds,
} from "./actions/payHeldBonds.js";
export { type PostAttestationParams, postAttestation } from "./actions/postAttestation.js";
export {
  type FraudEvidence,
  type ProveReceiptFraudResult,
  proveReceiptFraud,
} from "./actions/proveReceiptFraud.js";
export {
  type AttestationRecord,
  type AttestationStandingName,
  attestationStanding,
  getAttestation,
  gpuRequired,
} from "./actions/readAttestation.js";
export { type OnChainStack, readNodeIdOfSigner, readStack } from "./actions/readStackAndNode.js";
export { refundUnposted } from "./actions/refundUnposted.js";
export { type RegisterModelParams, registerModel, reportWeightsMismatch } from "./actions/registerModel.js";
export {
  type RegisterNodeParams,
  type RegisterNodeResult,
  registerNode,
  signerProofFor,
} from "./actions/registerNode.js";
export { getVrfKey, registerVrfKey, vrfKeyRegistryOf } from "./actions/registerVrfKey.js";
export { reportSilentReplacement, reportSilentSelection } from "./actions/reportSilentSelection.js";
export {
  reportUnposted,
  type ServedEvidence,
  servedEvidenceTypedData,
} from "./actions/reportUnposted.js";
export { requestSelectionData } from "./actions/requestSelectionData.js";
export { type ResolveDisputeResult, resolveDispute } from "./actions/resolveDispute.js";
export {
  encodeReveal,
  type RevealSettlementParams,
  type RevealSettlementResult,
  revealSettlement,
} from "./actions/revealSettlement.js";
export {
  type AttesterSelection,
  currentAttesterSelection,
  evaluateSelection,
  findOpenedSelections,
  getAttesterSelection,
  hasAnsweredSelection,
  selectionSampleIndices,
  selfSelect,
  vrfKeyUsableForSettlement,
} from "./actions/selfSelect.js";
export { sendsWaiting, withSenderLock } from "./actions/senderLock.js";
export { setNodeUrl } from "./actions/setNodeUrl.js";
export { failVerification, timeoutAttesters, timeoutSettlement } from "./actions/settlementDeadlines.js";
export {
  findPostedSampledRequests,
  findSettlementDispute,
  findSettlementSubmission,
} from "./actions/settlementLogs.js";
export {
  frozenCandidates,
  type SettlementOutcome,
  type SubmitOptions,
  type SubmitSettlementParams,
  type SubmitSettlementResult,
  submitSettlement,
  submitSettlements,
} from "./actions/submitSettlement.js";
export {
  completeExit,
  minSubscriptionCollateral,
  type SubscribeCollateral,
  type SubscribeParams,
  setSubscriptionCollateral,
  subscribe,
  unsubscribe,
  updateSubscription,
} from "./actions/subscribe.js";
export {
  declareTranscriptUnavailable,
  type PostedRequest,
  postSampledRequest,
  postSampledRequests,
  readMaxRequestBytes,
} from "./actions/transcriptFallback.js";
export {
  abstentionBallot,
  type Ballot,
  ballotOf,
  commitDisputeVote,
  revealDisputeVote,
  settlementBallotOf,
  showDisputeVote,
  type VoteParams,
} from "./actions/voteDispute.js";
export { type VrfProofArgs, vrfPossessionArgs, vrfProofArgs } from "./actions/vrfProofArgs.js";
export {
  type AtomaPublicClient,
  type AtomaWalletClient,
  type ChainClientOptions,
  chainFor,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  devAccounts,
} from "./clients.js";
export { attestationCommitment, attestationResult, randomSalt, voteCommitment } from "./commitments.js";
export {
  type AtomaAddresses,
  type AtomaContracts,
  atomaContracts,
  type Deployment,
  type DeployOptions,
  deployContracts,
  type EchelonApproval,
  wireContracts,
} from "./deploy.js";
export type { ChainErrorCode } from "./errorCodes.js";
export {
  AnvilStartError,
  ChosenNodeCannotServeError,
  ContractRevertError,
  DeploymentError,
  EventNotFoundError,
  EvidenceTooLargeError,
  MissingEventError,
  NodeNotRegisteredError,
  SignerProofMissingError,
  StackCancelledError,
  TooFewForCommitteeError,
  TransactionFailedError,
  UnexpectedOutcomeError,
  VrfNotDeployedError,
} from "./errors.js";
export { modelIdOf } from "./modelId.js";
export {
  type DeployParameters,
  type DeployRoles,
  devParameters,
  emissionBounds,
  type ParameterOverrides,
  resolveParameters,
} from "./parameters.js";
export { atomaErrorsAbi, type DecodedRevert, decodeRevert, describeRevert } from "./revert.js";
