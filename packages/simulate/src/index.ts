export { formatPrivateSelection } from "./formatPrivateSelection.js";
export { formatPrivateSelectionOnChain } from "./formatPrivateSelectionOnChain.js";
export { formatReport } from "./formatReport.js";
export {
  cheaterCount,
  defaultSimulationOptions,
  MAX_RATES,
  type SimulationOptions,
  SimulationOptionsError,
  STRATEGIES,
  type Strategy,
  validateSimulationOptions,
} from "./options.js";
export {
  type MeasuredRate,
  type PrivateSelectionOptions,
  type PrivateSelectionPoint,
  type PrivateSelectionResult,
  runPrivateSelection,
  TOLERANCE_Z,
} from "./privateSelection.js";
export {
  type OnChainGridPoint,
  type OnChainPrivateOptions,
  type OnChainPrivateResult,
  runPrivateSelectionOnChain,
  THRESHOLD_Z,
} from "./privateSelectionOnChain.js";
export {
  defaultPrivateSelectionOptions,
  validatePrivateSelectionOptions,
} from "./privateSelectionOptions.js";
export { profitPlot } from "./profitPlot.js";
export { type GroupTotals, type PointResult, runSimulation, type SimulationResult } from "./runSimulation.js";
export {
  type DealerOutcome,
  defaultSelfDealingOptions,
  formatSelfDealing,
  runSelfDealing,
  type SelfDealingOptions,
  SelfDealingOptionsError,
  type SelfDealingResult,
  validateSelfDealingOptions,
  type WashParameters,
} from "./selfDealing.js";
