import { type Hex, stringToBytes } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import { keccak256Hex } from "./keccak.js";

export type Hash = Hex;

/** H(JCS(value)): the hash of a JSON value's canonical UTF-8 bytes. */
export function hashCanonical(value: unknown): Hash {
  return keccak256Hex(stringToBytes(canonicalJson(value)));
}

/** reqHash = H(JCS(request body)), over the body exactly as the client signed it. */
export function requestHash(body: unknown): Hash {
  return hashCanonical(body);
}

/** Content address of a blob: H(bytes). */
export function blobId(bytes: Uint8Array): Hash {
  return keccak256Hex(bytes);
}
