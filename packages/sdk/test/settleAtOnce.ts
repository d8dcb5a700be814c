import { submitSettlement } from "@atoma/chain";
import type { loadKeyFile } from "@atoma/node";
import { parseNetwork, userContext } from "@atoma/sdk";
import { keccak256, toHex } from "viem";

/**
 * A node settles `stackId` on-chain now with its own `key` (one leaf of one unit, no draw), as its settlement worker
 * does, on the network `networkText` describes.
 */
export const settleAtOnce = (networkText: string, key: ReturnType<typeof loadKeyFile>, stackId: bigint) =>
  submitSettlement(
    userContext(parseNetwork(networkText), key),
    {
      stackId,
      root: keccak256(toHex("one leaf")),
      units: 1n,
      requestCount: 1n,
      transcriptId: keccak256(toHex("transcript")),
    },
    { draw: false },
  );
