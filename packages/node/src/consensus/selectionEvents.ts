import { DisputeKind, disputeSelectionAbi, readDispute } from "@atoma/chain";
import { type ChainEventSource, eventSource } from "../listener/eventSource.js";
import type { NodeSeat } from "../service/nodeSeat.js";
import { recordSelectionVote } from "./duties.js";

/**
 * A consensus dispute's private committee selection opened (issue 16), in any draw round: every node that is no
 * party records a vote row (or reopens the one an earlier round's window left) with the window's end as its commit
 * deadline and no reveal deadline yet (the event names nobody), so its worker evaluates the node's VRF on this
 * window's seed (`advanceSelection`); a node not selected ends the row. None without a
 * `DisputeSelection` in the deployment.
 */
export function consensusSelectionSources(chain: NodeSeat, nodeId: bigint): ChainEventSource[] {
  const address = chain.addresses.DisputeSelection;
  if (!address) return [];
  return [
    eventSource({
      name: "consensus-selection",
      address,
      abi: disputeSelectionAbi,
      handlers: {
        CommitteeSelectionOpened: {
          async read(event) {
            const dispute = await readDispute(chain, event.args.disputeId);
            // Settlement disputes are the attestation worker's.
            if (dispute.kind !== DisputeKind.Consensus) return undefined;
            return ({ db }) =>
              recordSelectionVote(db, {
                disputeId: event.args.disputeId,
                requestId: dispute.originId,
                nodeId,
                commitDeadline: event.args.endsAt,
                revealDeadline: 0n,
              });
          },
        },
      },
    }),
  ];
}
