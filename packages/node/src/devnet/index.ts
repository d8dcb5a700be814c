export { type ApiNodeOptions, apiNode, waitForStack } from "./apiNode.js";
export {
  CLUSTER_CHEAP_MODEL,
  CLUSTER_ECHELON,
  CLUSTER_MAX_OUTPUT_TOKENS,
  CLUSTER_MAX_UNITS,
  CLUSTER_MODEL,
  CLUSTER_PRICE,
  type ConsensusCluster,
  startConsensusCluster,
} from "./consensusCluster.js";
export { type DevNodeConfigInput, type DevnetEndpoint, devNodeConfig } from "./devNodeConfig.js";
export { DevnetTimeoutError } from "./devnetTimeoutError.js";
export { dropSchema } from "./dropSchema.js";
export { rewritingEngine } from "./rewritingEngine.js";
export { startTinyEngine, type TinyEngineOptions } from "./tinyEngine.js";
export { waitFor } from "./waitFor.js";
