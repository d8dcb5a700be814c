import type { ChainContext } from "@atoma/chain";
import type { LocalAccount } from "viem";

/**
 * What a committee member needs from the chain to vote: the actions' context (its `DisputeManager` takes the
 * vote), and the node's key and chain id, from which the vote's salt is derived.
 */
export interface CommitteeVoter {
  ctx: ChainContext;
  account: LocalAccount;
  chainId: number;
}
