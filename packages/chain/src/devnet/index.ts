export { DEV_ACCOUNT_ETH, DEV_ACCOUNT_TOMA, type DevAccount, type DevFunding } from "./devFunding.js";
export type { Devnet } from "./devnet.js";
export type { AtomaTestClient, DevnetBase } from "./devnetBase.js";
export {
  DEV_CAPACITY,
  DEV_ECHELON,
  DEV_NODE_COLLATERAL,
  DEV_PRICE_PER_MILLION,
  type DevModel,
  type DevModelOptions,
  type DevNode,
  type DevNodeOptions,
  type DevRegistry,
  type DevSubscription,
  type DevTaskParams,
} from "./devRegistry.js";
export { type DevnetOptions, deployDevnet, startDevnet } from "./startDevnet.js";
