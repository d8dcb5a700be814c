export { anvilBinaryPath } from "./anvil/binary.js";
export type { Anvil, AnvilOptions } from "./anvil/startAnvil.js";
export { startAnvil } from "./anvil/startAnvil.js";
export { waitForRpc } from "./anvil/waitForRpc.js";
export {
  type AtomaPublicClient,
  type AtomaWalletClient,
  type ChainClientOptions,
  chainFor,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  devAccounts,
} from "./clients.js";
export {
  type AtomaAddresses,
  type AtomaContracts,
  atomaContracts,
  type DeployOptions,
  deployContracts,
} from "./deploy.js";
export { AnvilStartError, DeploymentError } from "./errors.js";
