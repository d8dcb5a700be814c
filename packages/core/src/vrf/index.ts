export {
  disputeSelectionSeed,
  disputeSelectionThreshold,
  disputeSelectionWindow,
} from "./disputeSelection.js";
export {
  type AffinePoint,
  type DecodedProof,
  decodePoint,
  decodeProof,
  ecvrfSuite,
  encodeToCurve,
  pointToBytes,
  type VerifierHints,
  VRF_PROOF_BYTES,
  VRF_SUITE,
  type VrfCurve,
  vrfEvaluate,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerifierHints,
  vrfVerify,
} from "./ecvrf.js";
export {
  SortitionParametersError,
  VrfEncodingError,
  type VrfErrorCode,
  VrfProofError,
  VrfScalarError,
} from "./errors.js";
export {
  replacementSelectionSeed,
  type SelectionThreshold,
  settlementSampleSeed,
  settlementSelectionSeed,
  settlementSelectionThreshold,
} from "./selfSelection.js";
export {
  attesterSortition,
  committeeSizeCap,
  committeeSortition,
  isSelected,
  noSelectionBound,
  noSelectionProbability,
  type Sortition,
  selectionCountProbability,
  sortitionSeed,
  VECTOR_VRF_REGISTRY,
  type VrfRegistryDomain,
  vrfPossessionInput,
} from "./sortition.js";
