export { type DevNetworkOptions, type ReadyInfo, startDevNetwork } from "./dev/startDevNetwork.js";
export { type Service, ServiceStack } from "./lifecycle.js";
export { createProgram } from "./program.js";
