import type { Address } from "viem";
import { keccak256, toHex } from "viem";
import { insertStack } from "../../src/accounting/stacks.js";
import type { LeafInput, NewStack } from "../../src/accounting/types.js";
import type { NodeDb } from "../../src/db/openStateDatabase.js";

export const NODE_ID = 7n;
export const OTHER_NODE_ID = 8n;
export const OWNER: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

let nextStackId = 1n;

/** Inserts a fresh stack (its id unique within the run) served by NODE_ID unless told otherwise. */
export async function addStack(db: NodeDb, overrides: Partial<NewStack> = {}): Promise<NewStack> {
  const stack: NewStack = {
    stackId: nextStackId++,
    owner: OWNER,
    taskId: 1n,
    servingNodeId: NODE_ID,
    unitsBought: 1_000n,
    pricePerMillion: 2_000_000_000_000_000n,
    expiresAt: BigInt(Math.floor(Date.now() / 1000) + 3600),
    ...overrides,
  };
  await insertStack(db, stack);
  return stack;
}

/** A leaf for request number `n` using `units` units, with a signed-request-shaped JSON body. */
export function leafFor(n: number, units: bigint): LeafInput {
  return {
    units,
    reqHash: keccak256(toHex(`request ${n}`)),
    respHash: keccak256(toHex(`response ${n}`)),
    seed: BigInt(n),
    request: {
      body: { model: "tiny", prompt: `p${n}` },
      nonce: String(n),
      deadline: "0",
      max_units: "4096",
      signature: "0x00",
    },
  };
}
