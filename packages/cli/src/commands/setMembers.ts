import type { NodeCandidate } from "@atoma/chain";
import { formatEther } from "viem";

/** A drawn set's members as the CLI prints them: node id and price in TOMA per million units. */
export const membersOf = (set: readonly NodeCandidate[]) =>
  set.map((c) => ({ nodeId: c.nodeId, price: formatEther(c.pricePerMillion) }));
