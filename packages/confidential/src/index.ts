export {
  type AttestationCheck,
  type AttestationCheckName,
  type AttestationReport,
  checkAttestation,
} from "./attestationReport.js";
export { bytesEqual, fromHex, type HexString, toHex } from "./bytes.js";
export {
  CONFIDENTIAL_FIELD,
  CONFIDENTIAL_VERSION,
  ConfidentialAnswerReader,
  type ConfidentialEnvelope,
  type ConfidentialRequestContext,
  confidentialContext,
  isConfidentialBody,
  type OpenedError,
  readConfidentialEnvelope,
  SEALED_ANSWER_OBJECT,
  SEALED_CHUNK_OBJECT,
  SEALED_END_OBJECT,
  SEALED_ERROR_OBJECT,
  type SealedAnswer,
  sealConfidentialRequest,
} from "./confidentialRequest.js";
export {
  createDevAuthority,
  type DevAttestationKey,
  type DevAuthority,
  type DevCertificateOptions,
  issueDevAttestationKey,
} from "./devAuthority.js";
export { produceDevEvidence } from "./devEvidence.js";
export { createDevQuote, DEV_QUOTE_BYTES, verifyDevQuote } from "./devQuote.js";
export type { ConfidentialErrorCode } from "./errorCodes.js";
export {
  AttestationMalformedError,
  AttestationSignatureError,
  CertificateRevokedError,
  CollateralExpiredError,
  CollateralFetchError,
  CollateralMismatchError,
  CollateralStaleError,
  ConfidentialError,
  CrlExpiredError,
  CrlInvalidError,
  CrlMissingError,
  DevEvidenceRefusedError,
  GpuEvidenceMissingError,
  GpuTokenAlgorithmError,
  GpuTokenClaimsError,
  GpuTokenExpiredError,
  GpuTokenSignatureError,
  HpkeKeyError,
  HpkeOpenError,
  NonceReplayError,
  NonceUnknownError,
  QeIdentityMismatchError,
  QuoteRefusedError,
  ReportDataMismatchError,
  StreamAfterEndError,
  StreamChunkDuplicatedError,
  StreamChunkOutOfOrderError,
  StreamChunkTamperedError,
  StreamTruncatedError,
  TcbEvaluationOutdatedError,
  TcbOutdatedError,
  TdAttributesRefusedError,
  UnknownMeasurementError,
  UntrustedRootError,
} from "./errors.js";
export type { AttestationEvidence, DevEvidence, TdxEvidence } from "./evidence.js";
export {
  type GpuTokenOptions,
  type GpuVerdict,
  gpuNonceFor,
  NRAS_ISSUER,
  NRAS_JWKS_URL,
  unverifiedGpuTokenNonce,
  verifyNvidiaGpuToken,
} from "./gpuToken.js";
export {
  type EncryptionKeyPair,
  generateEncryptionKeyPair,
  hpkeSuite,
  openRequest,
  type SealedRequest,
  sealRequest,
} from "./hpke.js";
export {
  type AllowedMeasurement,
  checkMeasurements,
  MEASUREMENT_BYTES,
  type TdMeasurements,
} from "./measurements.js";
export { NonceStore, type NonceStoreOptions } from "./nonceStore.js";
export { parseEvidence } from "./parseEvidence.js";
export { fetchPccsCollateral, type PccsFetchLimits } from "./pccs.js";
export {
  bindingReportData,
  checkReportData,
  type EvidenceBinding,
  type Freshness,
  REPORT_DATA_BYTES,
} from "./reportData.js";
export {
  RESPONSE_SALT_BYTES,
  type ResponseKeys,
  ResponseOpener,
  ResponseSealer,
  type ResponseSecret,
  responseKeys,
  responseSecret,
  SEALED_CHUNK_BUCKETS,
  sealedChunkBucket,
  sealedRequestSize,
} from "./responseStream.js";
export {
  type Collateral,
  classifyDcapError,
  type TcbStatus,
  type TdxVerifyOptions,
  type VerifiedQuote,
  verifyTdxQuote,
} from "./tdx.js";
export {
  type AttestationExpectation,
  type AttestationPolicy,
  type AttestationVerdict,
  type ChainListedPolicy,
  DEFAULT_MAX_COLLATERAL_AGE_SECONDS,
  verifyAttestation,
  verifyAttestationChainListed,
  verifyEvidenceQuote,
} from "./verify.js";
