import type { LocalAccount } from "viem";
import type { NodeSeat } from "../service/nodeSeat.js";

/**
 * What a committee member needs to vote: the node's seat (its `DisputeManager` takes the vote) and the node's
 * key, from which, with the seat's chain id, the vote's salt is derived.
 */
export interface CommitteeVoter {
  seat: NodeSeat;
  account: LocalAccount;
}
