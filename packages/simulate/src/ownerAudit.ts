import { type ChainContext, challengeSettlement } from "@atoma/chain";
import { atomaDomain, type SignedResponseFields, signResponse } from "@atoma/core";
import type { LocalAccount } from "viem";
import type { ServedStack } from "./servedStack.js";
import type { SimNetwork, SimNode } from "./simNetwork.js";

export interface AuditedStack {
  stackId: bigint;
  buyer: ChainContext;
  server: SimNode;
  work: ServedStack;
  /** Units the buyer used: the running total its last signed response carries. */
  usedUnits: bigint;
}

/**
 * The owner holds every response the node signed; the last one carries the running unit total. When the
 * settlement claims more, the owner challenges with it and the DisputeManager upholds the challenge on the
 * signature alone. Returns the stacks whose challenge was upheld.
 */
export async function challengeOverClaims(
  network: SimNetwork,
  stacks: readonly AuditedStack[],
): Promise<bigint[]> {
  const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
  const upheld = await Promise.all(
    stacks.map(async (s) => {
      const last = s.work.reqHashes.length - 1;
      // What the node signed when it answered: the honest units and running total.
      const response: SignedResponseFields = {
        stackId: s.stackId,
        leafIndex: BigInt(last),
        nonce: BigInt(last),
        reqHash: s.work.reqHashes[last]!,
        respHash: s.work.served[last]!,
        units: s.work.honestUnits[last]!,
        cumulativeUnits: s.usedUnits,
        seed: BigInt(last),
      };
      const signature = await signResponse(
        s.server.ctx.walletClient.account as LocalAccount,
        domain,
        response,
      );
      const result = await challengeSettlement(s.buyer, { stackId: s.stackId, response, signature });
      return result.upheld ? [s.stackId] : [];
    }),
  );
  return upheld.flat();
}
