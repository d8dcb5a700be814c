export { assertJsonDepth, canonicalJson, MAX_JSON_DEPTH, MAX_REQUEST_DEPTH } from "./canonicalJson.js";
export {
  CONSENSUS_REFUSAL,
  type ConsensusSealInput,
  consensusLeaf,
  consensusRoot,
  consensusSeal,
  MAX_CONSENSUS_NODES,
} from "./consensusCommitment.js";
export {
  consensusShownOutput,
  disputeVoteCommitment,
  responseOutput,
  sampleClaim,
  UNAVAILABLE_CLAIM,
  voteWork,
  workPart,
} from "./disputeVote.js";
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
export { type SelfDealingBound, selfDealingBound, type WashParameters } from "./economics/selfDealing.js";
export {
  atomaDomain,
  requestTypes,
  responseTypes,
  type Signed,
  type SignedRequestFields,
  type SignedResponseFields,
} from "./eip712.js";
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
export { blobId, type Hash, hashCanonical, leafHash, requestHash } from "./hash.js";
export { type Logger, silentLogger } from "./logger.js";
export { LeafTree, merkleRoot, verifyMerkleProof } from "./merkle.js";
export { type ReproducibleResult, reproducibleResult, responseHash } from "./responseResult.js";
export { deriveSeed, MAX_SEED } from "./seed.js";
export {
  assertRequestSigner,
  assertResponseSigner,
  recoverRequestSigner,
  recoverResponseSigner,
  requestDigest,
  responseDigest,
  signRequest,
  signResponse,
} from "./signatures.js";
export {
  recoverSignerBinding,
  type SignerBindingFields,
  signerBindingDigest,
  signerBindingHash,
  signSignerBinding,
} from "./signerBinding.js";
export { type AtomaReceipt, parseReceipt, STACK_HEADERS, toReceipt } from "./stackEnvelope.js";
export {
  decodeTranscript,
  encodeTranscript,
  type InputsTranscript,
  InvalidTranscriptError,
  type TranscriptEntry,
  type TranscriptLimits,
  transcriptId,
  verifyTranscript,
} from "./transcript.js";
export { computeUnits, costOfUnits, UNITS_PER_PRICE } from "./units.js";
