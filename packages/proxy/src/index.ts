export { AdminClient, AdminRequestError } from "./admin/adminClient.js";
export {
  databaseConfigOf,
  databaseSchema,
  type ProxyConfig,
  type ProxyConfigInput,
  parseDatabaseSettings,
  parseProxyConfig,
  proxyConfigSchema,
} from "./config/proxyConfig.js";
export {
  type EmbeddedDatabaseConfig,
  type GatewayDatabaseConfig,
  type GatewayDb,
  type OpenedDatabase,
  openGatewayDatabase,
  type PostgresDatabaseConfig,
} from "./db/openGatewayDatabase.js";
export type { GatewayDatabase } from "./db/schema.js";
export type { ProxyErrorCode } from "./errorCodes.js";
export {
  GatewayDatabaseError,
  GatewayLifecycleError,
  InsufficientQuotaError,
  InvalidApiKeyError,
  InvalidJsonError,
  KeyNotFoundError,
  type KeyRefusal,
  ModelNotFoundError,
  NodeFailedError,
  NoNodeAvailableError,
  ProxyConfigError,
  RateLimitExceededError,
  RequestTooLargeError,
  RetryLaterError,
  RouteNotFoundError,
  ShuttingDownError,
} from "./errors.js";
export { createGatewayApp, type GatewayAppOptions } from "./gateway/createGatewayApp.js";
export { type ErrorBody, type ErrorResponse, errorResponseOf } from "./gateway/errorResponse.js";
export type { GatewayParts, GatewayState } from "./gateway/gatewayParts.js";
export { GatewayServer, type GatewayServerOptions } from "./gateway/gatewayServer.js";
export type { ModelListing, Upstream, UpstreamAnswer, UpstreamRequest } from "./gateway/upstream.js";
export { hashApiKey, isApiKeyShaped, isKeyId, newKeySecret } from "./keys/apiKeySecret.js";
export { authenticate, keyAllows } from "./keys/authenticate.js";
export { type KeyRecord, type KeyStatus, type KeyView, keyStatus, keyView } from "./keys/keyRecord.js";
export { type CreatedKey, type KeyAdmin, KeyStore } from "./keys/keyStore.js";
export {
  type KeyChanges,
  type KeyChangesInput,
  keyChangesSchema,
  type NewKeyInput,
  type NewKeyTerms,
  newKeySchema,
} from "./keys/keyTerms.js";
export type { KeyRateLimiter } from "./limits/keyRateLimiter.js";
export { type KeyLimits, RateLimiter, type RateTicket } from "./limits/rateLimiter.js";
export { RedisRateLimiter, type RedisRateLimiterOptions } from "./limits/redisRateLimiter.js";
export { type BoundOptions, type Endpoint, type RequestBound, requestBound } from "./limits/requestBound.js";
export { SpendLedger, type SpendLedgerOptions, type SpendReservation } from "./limits/spendLedger.js";
export {
  createGatewayMetrics,
  GATEWAY_METRICS_PREFIX,
  type GatewayMetrics,
} from "./metrics/gatewayMetrics.js";
export type { CatalogModel, CatalogNode, CatalogTask } from "./network/catalog.js";
export { NetworkCatalog, type NetworkCatalogOptions } from "./network/networkCatalog.js";
export {
  NetworkUpstream,
  type NetworkUpstreamComponents,
  type NetworkUpstreamOptions,
} from "./network/networkUpstream.js";
export {
  type LeasedStack,
  StackPool,
  type StackPoolOptions,
  type StackProgress,
} from "./network/stackPool.js";
export {
  type HealthEvent,
  type InFlightClaim,
  NodeHealthBook,
  type NodeObservation,
} from "./routing/nodeHealthBook.js";
export { NodeProber, type NodeProberOptions } from "./routing/nodeProber.js";
export {
  type ProviderPreferences,
  parseProviderPreferences,
  type RouteSort,
} from "./routing/providerPreferences.js";
export { BALANCED_WEIGHTS, rankNodes } from "./routing/rankNodes.js";
export { RedisHealthChannel } from "./routing/redisHealthChannel.js";
export { openKeyStore, openUsageBook } from "./service/openKeyAdmin.js";
export { type Gateway, type GatewayComponents, startGateway } from "./service/startGateway.js";
export { UsageBook, type UsageQuery, type UsageRow, usageDays } from "./usage/usageBook.js";
