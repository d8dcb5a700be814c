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
export {
  BlobFetchError,
  BlobHashMismatchError,
  BlobNotFoundError,
  BlobTooLargeError,
  ChainReorgError,
  ConfigError,
  DatabaseError,
  InvalidBlobIdError,
  InvalidJsonError,
  KeyFileError,
  KeyFilePermissionError,
  NonceReusedError,
  PromptTooLongError,
  QueueFullError,
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
export { type DevKeyFile, loadKeyFile, writeDevKeyFile } from "./keys/keyFile.js";
