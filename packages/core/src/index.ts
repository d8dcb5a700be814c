export {
  attestationCommitment,
  attestationResult,
  type RecomputedSample,
} from "./attestationCommitment.js";
export { assertJsonDepth, canonicalJson, MAX_JSON_DEPTH, MAX_REQUEST_DEPTH } from "./canonicalJson.js";
export {
  AttestationKind,
  type AttestationKindName,
  evidenceHash,
  MAX_QUOTE_BYTES,
  type MeasurementRegisters,
  measurementHash,
} from "./confidential/attestationRecord.js";
export {
  CONSENSUS_REFUSAL,
  type ConsensusSealInput,
  consensusLeaf,
  consensusRoot,
  consensusSeal,
  MAX_CONSENSUS_NODES,
} from "./consensusCommitment.js";
export {
  claimOfOutputs,
  consensusShownOutput,
  disputeVoteCommitment,
  outputUnits,
  responseOutput,
  sampleClaim,
  UNAVAILABLE_CLAIM,
  voteWork,
  workPart,
} from "./disputeVote.js";
export {
  type AttesterOutcome,
  binomialPmf,
  type EligibleSet,
  hypergeometricPmf,
  privateDrawOutcomes,
  publicDrawOutcomes,
  selectionProbability,
} from "./economics/attesterOutcomes.js";
export {
  expectedCheaterReward,
  expectedHonestReward,
  type GameParameters,
  ImpossibleParametersError,
  minimumReplicationRate,
  type ReplicationBounds,
  type ResolvedGame,
  tamperedSettlementProbability,
  validateGame,
} from "./economics/replicationRate.js";
export {
  type MustCheckOdds,
  mustCheckOdds,
  SELECTION_FALLBACKS,
  type SelectionFallback,
} from "./economics/selectionFallback.js";
export {
  type Colluders,
  cheatPaysThreshold,
  compareSelection,
  expectedRewards,
  noAttesterProbability,
  privateDetectionProbability,
  type SelectionComparison,
} from "./economics/selectionThreshold.js";
export { type SelfDealingBound, selfDealingBound, type WashParameters } from "./economics/selfDealing.js";
export {
  atomaDomain,
  requestTypes,
  responseTypes,
  type Signed,
  type SignedRequestFields,
  type SignedResponseFields,
} from "./eip712.js";
export type { CoreErrorCode } from "./errorCodes.js";
export {
  AtomaError,
  type AtomaErrorOptions,
  CanonicalJsonError,
  InvalidInputError,
  InvalidSignatureError,
  InvalidUnicodeError,
  JsonTooDeepError,
  MerkleTreeError,
} from "./errors.js";
export { blobId, type Hash, hashCanonical, requestHash } from "./hash.js";
export { keccak256Bytes, keccak256Hex } from "./keccak.js";
export {
  type LeafDenialFields,
  type LeafDenialWire,
  leafDenialDigest,
  leafDenialToWire,
  leafDenialTypes,
  type SignedLeafDenial,
  signLeafDenial,
  verifyLeafDenial,
} from "./leafDenial.js";
export { type LeafProof, parseLeafProof } from "./leafProof.js";
export {
  assertLeafReadSigner,
  LEAF_READ_HEADERS,
  LEAF_READ_MAX_AHEAD_SECONDS,
  type LeafReadFields,
  leafReadDigest,
  leafReadTypes,
  NO_REQUEST_NAMED,
  namedLeafReadTypes,
  signLeafRead,
} from "./leafRead.js";
export { type Logger, silentLogger } from "./logger.js";
export { LeafTree, merkleRoot, verifyMerkleProof } from "./merkle.js";
export { privateKeyAccount } from "./privateKeyAccount.js";
export {
  findReceiptFraud,
  findSettledLeafFraud,
  pairReceiptFraud,
  type ReceiptFraudProof,
  type SignedReceipt,
  singleReceiptFraud,
} from "./receiptFraud.js";
export { withRecoveryByte27 } from "./recoveryByte.js";
export {
  type ChatLogprobsResult,
  type ChatTokenLogprob,
  type CompletionLogprobsResult,
  chatLogprobsResult,
  completionLogprobsResult,
} from "./responseLogprobs.js";
export {
  type ReproducibleResult,
  type ReproducibleToolCall,
  reproducibleResult,
  responseHash,
  resultBytes,
  SEALED_ANSWER_OBJECT,
  SEALED_RESTART_OBJECT,
} from "./responseResult.js";
export { deriveSeed, MAX_SEED } from "./seed.js";
export {
  assertRequestSigner,
  assertResponseSigner,
  recoverDigestSignature,
  recoverRequestSigner,
  recoverResponseSigner,
  requestDigest,
  responseDigest,
  signRequest,
  signResponse,
} from "./signatures.js";
export { responseEnvelope, signedResponseBody } from "./signedResponseBody.js";
export {
  recoverSignerBinding,
  type SignerBindingFields,
  signerBindingDigest,
  signerBindingHash,
  signSignerBinding,
} from "./signerBinding.js";
export { type AtomaReceipt, parseReceipt, STACK_HEADERS, toReceipt } from "./stackEnvelope.js";
export { leafHash, leafOf, type StackLeaf } from "./stackLeaf.js";
export {
  EMPTY_LEAF,
  MAX_STACK_LEAVES,
  StackTree,
  stackProofLength,
  stackRoot,
  stackRootOf,
  stackTreeWidth,
  verifyStackProof,
} from "./stackTree.js";
export {
  type AuditedTranscript,
  decodeTranscript,
  encodeTranscript,
  type InputsTranscript,
  InvalidTranscriptError,
  NonceNotLeafIndexError,
  RepeatedNonceError,
  RepeatedRequestError,
  RunningTotalError,
  type TranscriptEntry,
  type TranscriptExpectations,
  type TranscriptLeafEntry,
  type TranscriptLimits,
  TranscriptRootMismatchError,
  transcriptId,
  transcriptLeaves,
  UnitsOverSignedError,
  verifyTranscript,
} from "./transcript.js";
export { computeUnits, costOfUnits, UNITS_PER_PRICE } from "./units.js";
export * from "./vrf/index.js";
export { isListedWireError, type OpenAiErrorType, WIRE_ERRORS, type WireErrorCode } from "./wireErrors.js";
