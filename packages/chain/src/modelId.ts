import { type Hex, keccak256, stringToBytes } from "viem";

/** The on-chain (bytes32) id of a model named `name` (as `GET /v1/models` lists it): H(utf8(name)). */
export function modelIdOf(name: string): Hex {
  return keccak256(stringToBytes(name));
}
