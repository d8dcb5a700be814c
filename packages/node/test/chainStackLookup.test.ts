import { type AtomaPublicClient, StackStatus } from "@atoma/chain";
import { silentLogger } from "@atoma/core";
import { zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import { chainStackLookup } from "../src/api/chainStackLookup.js";

/** A client whose StackManager holds stacks 1 and 2, both on node 0, with the statuses given. */
function chainWith(statusOf: Record<string, number>) {
  let reads = 0;
  const client = {
    readContract: async ({ functionName, args }: { functionName: string; args?: readonly [bigint] }) => {
      reads++;
      if (functionName === "stackCount") return 2n;
      return {
        owner: zeroAddress,
        status: statusOf[String(args![0])],
        taskId: 1n,
        nodeId: 0n,
        units: 1_000n,
        expiresAt: 0n,
        pricePerMillion: 0n,
      };
    },
  } as unknown as AtomaPublicClient;
  return { client, reads: () => reads };
}

describe("chainStackLookup", () => {
  it("remembers a stack cancelled with node 0, never one still waiting for its node", async () => {
    const chain = chainWith({ "1": StackStatus.Choosing, "2": StackStatus.Closed });
    const lookup = chainStackLookup(chain.client, zeroAddress, silentLogger);
    expect(await lookup(2n)).toEqual({ nodeId: 0n });
    const afterCancelled = chain.reads();
    expect(await lookup(2n)).toEqual({ nodeId: 0n });
    expect(chain.reads()).toBe(afterCancelled);

    expect(await lookup(1n)).toEqual({ nodeId: 0n });
    const afterChoosing = chain.reads();
    expect(await lookup(1n)).toEqual({ nodeId: 0n });
    expect(chain.reads()).toBeGreaterThan(afterChoosing);
  });
});
