export { anvilBinaryPath } from "./anvil/binary.js";
export type { Anvil, AnvilOptions } from "./anvil/startAnvil.js";
export { startAnvil } from "./anvil/startAnvil.js";
export { waitForRpc } from "./anvil/waitForRpc.js";
export * from "./portable.js";
