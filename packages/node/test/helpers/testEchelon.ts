import { keccak256, stringToBytes } from "viem";

/** The echelon the test networks' nodes register in, approved at deployment (no node registers in another). */
export const TEST_ECHELON = { echelon: 1, fingerprint: keccak256(stringToBytes("test echelon 1")) } as const;
