export { StreamAssembler } from "./assembleStream.js";
export { NodeRequestError, NodeUnreachableError, ResponseVerificationError } from "./errors.js";
export { readSse } from "./readSse.js";
export { StackClient, type StackClientOptions, type Verified } from "./StackClient.js";
export { type SignedStackRequest, type StackRequest, signStackRequest } from "./signStackRequest.js";
export { type ReceiptExpectations, verifyReceipt } from "./verifyReceipt.js";
