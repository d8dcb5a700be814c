export { NodeNotRegisteredError } from "@atoma/chain";
export { Accounting, type AccountingComponents, type AccountingOptions } from "./accounting/accounting.js";
export { countStacks } from "./accounting/countStacks.js";
export {
  type FreezeOptions,
  freezeForSettlement,
  type SettlementSnapshot,
} from "./accounting/freezeForSettlement.js";
export { recoverLiveStacks } from "./accounting/recoverLiveStacks.js";
export { releaseDanglingReservations } from "./accounting/releaseDanglingReservations.js";
export {
  findLeafByNonce,
  getStack,
  insertStack,
  listLeaves,
  listStacks,
  transitionStack,
} from "./accounting/stacks.js";
export type {
  CommittedLeaf,
  LeafInput,
  NewStack,
  Reservation,
  ReserveInput,
  Stack,
  StoredLeaf,
} from "./accounting/types.js";
export {
  AdmissionGate,
  type AdmissionGateComponents,
  type AdmissionGateOptions,
  type Permit,
} from "./admission/admissionGate.js";
export type { ChainStackLookup, Endpoint, StackApi, StackApiLimits } from "./api/apiContext.js";
export { MissingAuthorizationError, RequestExpiredError } from "./api/errors.js";
export { type StackApiOptions, stackApiPart } from "./api/stackApiPart.js";
export {
  type AttestationPartComponents,
  type AttestationPartOptions,
  attestationPart,
} from "./attestation/attestationPart.js";
export type { AttestDecision, CommitStrategy, DutyInput, VoteInput } from "./attestation/commitStrategy.js";
export {
  SettlementNotFoundError,
  TranscriptUnusableError,
} from "./attestation/errors.js";
export { honestStrategy } from "./attestation/honestStrategy.js";
export { parseBlobId } from "./blobs/blobId.js";
export {
  BlobStore,
  type BlobStoreComponents,
  type BlobStoreOptions,
  type StoredBlob,
} from "./blobs/blobStore.js";
export { type FetchBlobOptions, fetchBlob } from "./blobs/fetchBlob.js";
export {
  ConfidentialCompute,
  type ConfidentialComputeOptions,
  type EpochEvidence,
} from "./confidential/confidentialCompute.js";
export {
  AttestationNotPostedError,
  AttestationRateLimitedError,
  AttestationRecordStaleError,
  AttestationUnavailableError,
  ConfidentialEnvelopeError,
  ConfidentialReplayedError,
  ConfidentialStackUnsupportedError,
  ConfidentialUndecryptableError,
  ConfidentialUnsupportedError,
  EvidenceSourceError,
  InvalidAttestationNonceError,
} from "./confidential/errors.js";
export { devEvidenceSource, type EvidenceSource } from "./confidential/evidenceSource.js";
export {
  TSM_REPORT_ROOT,
  type TsmEvidenceSourceOptions,
  tsmEvidenceSource,
} from "./confidential/tsmEvidenceSource.js";
export { type ConfigOption, configOptions, ENV_PREFIX, envName } from "./config/env.js";
export {
  type EmbeddedDatabaseConfig,
  type LoadConfigOptions,
  loadNodeConfig,
  type NodeConfig,
  type NodeConfigInput,
  type PostgresDatabaseConfig,
  parseNodeConfig,
} from "./config/loadConfig.js";
export { printableConfig, redactUrl } from "./config/redact.js";
export { nodeConfigSchema } from "./config/schema.js";
export { consensusChatBody, consensusSeed, outputBytes, promptText } from "./consensus/consensusBody.js";
export { type ConsensusPartOptions, consensusPart } from "./consensus/consensusPart.js";
export {
  ConsensusModelMismatchError,
  ConsensusPromptError,
} from "./consensus/errors.js";
export { nodeMigrations } from "./db/migrations.js";
export {
  type NodeDb,
  type OpenStateDatabaseOptions,
  openStateDatabase,
  type StateDatabase,
} from "./db/openStateDatabase.js";
export type {
  AttestationKind,
  AttestationState,
  ConsensusSeatState,
  ConsensusVoteState,
  NodeDatabase,
  SettlementOutcome,
  SettlementState,
  StackState,
} from "./db/schema.js";
export type { DutyEnv } from "./duties/dutyEnv.js";
export { fingerprintOfConfig } from "./engine/configFingerprint.js";
export { ensureConfiguredModel } from "./engine/configuredModelFile.js";
export {
  EchelonFingerprintGate,
  type EchelonFingerprintVerdict,
} from "./engine/echelonFingerprintGate.js";
export { type EchelonFingerprintSource, readEchelonFingerprint } from "./engine/echelonFingerprintSource.js";
export {
  EchelonFingerprintMismatchError,
  EchelonFingerprintUnknownError,
} from "./engine/fingerprintErrors.js";
export {
  type FingerprintBody,
  type FingerprintPartOptions,
  fingerprintPart,
} from "./engine/fingerprintPart.js";
export { computeLocalFingerprint, type LocalFingerprint } from "./engine/localFingerprint.js";
export { configuredEngineOptions, createConfiguredEngine } from "./engine/nodeEngine.js";
export { checkRegisteredWeights, type RegisteredWeights } from "./engine/registeredWeights.js";
export { type WeightsCheckOptions, weightsCheckPart } from "./engine/weightsCheckPart.js";
export {
  ModelNotActiveError,
  ModelNotRegisteredError,
  RegisteredWeightsMismatchError,
} from "./engine/weightsErrors.js";
export type { NodeErrorCode } from "./errorCodes.js";
export {
  BlobFetchError,
  BlobHashMismatchError,
  BlobNotFoundError,
  BlobTooLargeError,
  ChainReorgError,
  ChainUnavailableError,
  ConfigError,
  CursorMovedError,
  DatabaseError,
  InvalidBlobIdError,
  InvalidJsonError,
  KeyFileError,
  KeyFilePermissionError,
  NonceOutOfOrderError,
  NonceReusedError,
  PromptTooLongError,
  QueueFullError,
  RequestInFlightError,
  RequestTooLargeError,
  ReservationNotFoundError,
  RouteNotFoundError,
  ShuttingDownError,
  StackBusyError,
  StackClosedError,
  StackExhaustedError,
  StackExpiredError,
  StackNotServedError,
  UnitsExceedReservationError,
  UnknownModelError,
  UnknownStackError,
} from "./errors.js";
export { createHttpApp, type HttpAppComponents, type HttpAppOptions } from "./http/createHttpApp.js";
export { type HttpError, httpErrorOf, type OpenAiErrorBody } from "./http/errorResponse.js";
export { HttpServer, type HttpServerComponents, type HttpServerOptions } from "./http/httpServer.js";
export type {
  HealthCheck,
  ModelCard,
  ModelCatalog,
  NodeApp,
  NodeEnv,
  RouteInstaller,
  ServerState,
} from "./http/nodeEnv.js";
export { readJsonObject } from "./http/readJson.js";
export { type DevKeyFile, loadKeyFile, writeDevKeyFile } from "./keys/keyFile.js";
export { type LoggableError, loggableError } from "./logging/loggableError.js";
export { redactingLogger } from "./logging/redactingLogger.js";
export {
  createNodeMetrics,
  METRICS_PREFIX,
  type NodeMetrics,
  type NodeMetricsOptions,
} from "./metrics/nodeMetrics.js";
export { assertChain, createNodeChainClient, type NodeChainClient } from "./service/chainClient.js";
export { type AtomaNode, createNode, type NodeComponents } from "./service/createNode.js";
export { defaultNodeParts } from "./service/defaultParts.js";
export type { NodeContext, NodePart, NodePartFactory } from "./service/nodePart.js";
export { missingContracts, type NodeSeat, openNodeSeat } from "./service/nodeSeat.js";
export { type BuiltSettlement, buildSettlement, EMPTY_ROOT } from "./settlement/buildSettlement.js";
export { SettlementStateError } from "./settlement/errors.js";
export { settlementAddresses } from "./settlement/settlementContracts.js";
export { settlementEventSources } from "./settlement/settlementEvents.js";
export { settlementPart } from "./settlement/settlementPart.js";
export {
  type SettlementReason,
  type SettlementTriggers,
  settlementReason,
} from "./settlement/settlementReason.js";
export {
  type SettlementEnv,
  SettlementWorker,
  type SettlementWorkerOptions,
} from "./settlement/settlementWorker.js";
