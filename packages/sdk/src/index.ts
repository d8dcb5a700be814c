export { StreamAssembler } from "./assembleStream.js";
export { checkReceiptSequence, type SequenceContext } from "./checkReceiptSequence.js";
export type { SdkErrorCode } from "./errorCodes.js";
export {
  AnswerTooLargeError,
  NodeRequestError,
  NodeUnreachableError,
  ResponseVerificationError,
  RunningTotalError,
  UnhashableStreamError,
  UnitsMismatchError,
} from "./errors.js";
export { findKeptReceiptFraud } from "./keptReceiptFraud.js";
export { type Network, NetworkDescriptionError, parseNetwork, readContext, userContext } from "./network.js";
export { readBodyCapped, readJsonCapped } from "./readBodyCapped.js";
export { readSse, type SseLimits } from "./readSse.js";
export { type KeptReceipt, StackClient, type StackClientOptions, type Verified } from "./StackClient.js";
export { type SignedStackRequest, type StackRequest, signStackRequest } from "./signStackRequest.js";
export {
  type BuyTerms,
  boughtStack,
  givenStack,
  type NodePick,
  reusableStack,
  StackUnusableError,
  type UsableStack,
} from "./stackChoice.js";
export { type ReceiptExpectations, verifyReceipt } from "./verifyReceipt.js";
