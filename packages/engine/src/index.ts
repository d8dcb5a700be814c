export {
  assertGgufModel,
  type ModelFile,
  type ModelFileOptions,
  resolveModelFile,
} from "./download/modelFile.js";
export {
  type DownloadProgress,
  HUGGING_FACE_URL,
  type ModelSource,
  type PulledModel,
  type PullOptions,
  parseModelSource,
  pullModel,
} from "./download/pullModel.js";
export { EngineStream } from "./EngineStream.js";
export {
  EmbeddedEngine,
  type EmbeddedEngineComponents,
  type EmbeddedPrepared,
  type PreparedGeneration,
} from "./embedded/EmbeddedEngine.js";
export type { GenerationEnd, TokenLogprob } from "./embedded/generate.js";
export {
  type EmbeddedEngineOptions,
  type EmbeddedModelSpec,
  embeddedEngineOptionsSchema,
  type ResolvedEmbeddedEngineOptions,
} from "./embedded/options.js";
export type { EngineErrorCode } from "./errorCodes.js";
export {
  ContextLengthExceededError,
  EngineBusyError,
  EngineStoppedError,
  InvalidRequestError,
  ModelDownloadError,
  ModelFileError,
  ModelLoadError,
  ModelNotFoundError,
  type PartialUsage,
  RequestAbortedError,
  UnsupportedParameterError,
  UpstreamError,
  WeightsRootMismatchError,
} from "./errors.js";
export {
  type CpuVariantBuild,
  installedCpuVariants,
  prepareCpuVariantBuild,
} from "./fingerprint/cpuVariantBuild.js";
export { fingerprintEmbeddedOptions, numericSettingsOf } from "./fingerprint/embeddedFingerprint.js";
export { FingerprintUnavailableError, ProbeModelChangedError } from "./fingerprint/errors.js";
export {
  type BackendInfo,
  computeFingerprint,
  type EngineFingerprint,
  encodeFingerprint,
  type NumericSettings,
} from "./fingerprint/fingerprint.js";
export { fingerprintInChildProcess } from "./fingerprint/fingerprintProcess.js";
export { PROBE_DECODE_STEPS, PROBE_PROMPT_TOKENS, PROBE_VERSION } from "./fingerprint/probe.js";
export { ensureProbeModel, PROBE_MODEL, PROBE_MODEL_SHA256 } from "./fingerprint/probeModel.js";
export type {
  CallOptions,
  ChatResult,
  CompletionResult,
  EngineHealth,
  EngineLoad,
  GenerationInfo,
  InferenceEngine,
} from "./InferenceEngine.js";
export {
  type ChatMessage,
  type ChatRequest,
  type CompletionRequest,
  type EmbeddingRequest,
  MAX_STOP_SEQUENCES,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  parseTokenizeRequest,
  type TokenizeRequest,
} from "./openai/requests.js";
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatLogprobs,
  ChatMessageOut,
  CompletionLogprobs,
  EmbeddingResponse,
  FinishReason,
  ModelCard,
  TextCompletion,
  TextCompletionChunk,
  TextFinishReason,
  TokenizeResult,
  ToolCall,
  ToolCallDelta,
  Usage,
} from "./openai/responses.js";
export type { AssistantToolCall, ResponseFormat, Tool, ToolChoice } from "./openai/toolSchemas.js";
export type { GenerationKind, PreparedRequest } from "./PreparedRequest.js";
export { type RemoteEngineOptions, remoteEngineOptionsSchema } from "./remote/options.js";
export { RemoteEngine, type RemoteEngineComponents } from "./remote/RemoteEngine.js";
export {
  DEFAULT_COMPLETION_MAX_TOKENS,
  resolveSampling,
  SAMPLING_DEFAULTS,
  type SamplingSettings,
} from "./sampling.js";
export { detectToolDialect, TOOL_DIALECTS } from "./structured/dialects/detectToolDialect.js";
export type { ToolDialect, WrittenCall } from "./structured/dialects/ToolDialect.js";
export { toolCallText } from "./structured/toolCallText.js";
export {
  defaultModelCacheDir,
  ensureTinyModel,
  type TinyModelFile,
  tinyModelId,
} from "./tinyModel/tinyModelCache.js";
export {
  DEFAULT_TINY_SEED,
  DEFAULT_TINY_SHAPE,
  type TinyChatTemplate,
  type TinyModelOptions,
  type TinyModelShape,
  writeTinyModel,
} from "./tinyModel/writeTinyModel.js";
export { type Claim, claimFromResponse } from "./verify/claim.js";
export type { ReplayDifference, ReplayResult } from "./verify/replay.js";
export type { TokenCheck, TokenVerdict } from "./verify/samplerReplica.js";
export {
  SCORE_LOGIT_TOLERANCE,
  type ScoredToken,
  type ScoreOptions,
  type ScoreResult,
} from "./verify/score.js";
export { assertWeightsRoot, WEIGHTS_CHUNK_BYTES, weightsLeaves, weightsRoot } from "./weights/weightsRoot.js";
