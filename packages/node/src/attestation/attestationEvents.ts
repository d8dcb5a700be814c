import {
  DisputeKind,
  disputeManagerAbi,
  disputeSelectionAbi,
  readDispute,
  settlementDrawAbi,
  settlementManagerAbi,
} from "@atoma/chain";
import { type ChainEventSource, eventSource } from "../listener/eventSource.js";
import type { NodeSeat } from "../service/nodeSeat.js";
import {
  insertDuty,
  recordDrawnSeat,
  recordPublicDraw,
  recordReplacementDuty,
  recordSelectionWindow,
} from "./duties.js";

/**
 * The events that give this node a duty: sampled (or drawn as a replacement) to attest a settlement, or drawn
 * onto the committee of a settlement dispute. Each handler only records the duty; the worker does the rest. Their
 * chain reads (the node's id, a dispute's kind) run before the listener's transaction (`ChainReadingHandler`).
 */
export function attestationEventSources(chain: NodeSeat): ChainEventSource[] {
  const selection = chain.addresses.DisputeSelection;
  return [
    ...(selection ? [committeeSelectionSource(chain, selection)] : []),
    eventSource({
      name: "attestation",
      address: chain.addresses.SettlementManager,
      abi: settlementManagerAbi,
      handlers: {
        AttestersSampled: {
          async read(event) {
            const me = await chain.nodeId();
            if (me === undefined || !event.args.attesters.includes(me)) return undefined;
            // Named by a public draw: a duty a private window left failed is opened again (recordPublicDraw).
            return ({ db }) =>
              recordPublicDraw(db, {
                kind: "attest",
                stackId: event.args.stackId,
                round: 0n,
                indices: event.args.requestIndices,
                commitDeadline: event.args.commitDeadline,
                eventBlock: event.blockNumber,
              });
          },
        },
        AttesterReplaced: {
          async read(event) {
            const me = await chain.nodeId();
            if (me === undefined || event.args.nodeId !== me) return undefined;
            // Drawn in public after a replacement window it was a candidate of: that window's row may have ended
            // failed (not seated when the window closed); it is this draw's duty now.
            return ({ db }) =>
              recordPublicDraw(db, {
                kind: "attest",
                stackId: event.args.stackId,
                round: 0n,
                indices: [],
                commitDeadline: event.args.commitDeadline,
                eventBlock: event.blockNumber,
              });
          },
        },
      },
    }),
    eventSource({
      name: "attestation-selection",
      address: chain.addresses.SettlementDraw,
      abi: settlementDrawAbi,
      handlers: {
        // A private selection window opened: record a duty on every one, so the step evaluates the node's VRF (the
        // event says nothing of who is selected; a node not selected forgets the duty).
        SelectionOpened: {
          async read(event) {
            if ((await chain.nodeId()) === undefined) return undefined;
            return ({ db }) =>
              insertDuty(db, {
                kind: "attest",
                stackId: event.args.stackId,
                round: 0n,
                indices: [],
                commitDeadline: event.args.endsAt,
                eventBlock: event.blockNumber,
              });
          },
        },
        // A replacement round's private window: the same (a first-window candidate's failed row is opened again; an
        // attester keeps the row it has; the step checks candidacy).
        ReplacementSelectionOpened: {
          async read(event) {
            if ((await chain.nodeId()) === undefined) return undefined;
            return ({ db }) =>
              recordReplacementDuty(db, {
                kind: "attest",
                stackId: event.args.stackId,
                round: 0n,
                indices: [],
                commitDeadline: event.args.endsAt,
                eventBlock: event.blockNumber,
              });
          },
        },
      },
    }),
    eventSource({
      name: "attestation-disputes",
      address: chain.addresses.DisputeManager,
      abi: disputeManagerAbi,
      handlers: {
        DisputeOpened: {
          async read(event) {
            // Consensus disputes are another worker's.
            if (event.args.kind !== DisputeKind.Attestation) return undefined;
            const me = await chain.nodeId();
            if (me === undefined || !event.args.committee.includes(me)) return undefined;
            // A seat sealed in a self-selection the window dropped is made a drawn seat again (see recordDrawnSeat).
            return ({ db }) =>
              recordDrawnSeat(db, {
                kind: "committee",
                stackId: event.args.originId,
                round: event.args.disputeId,
                indices: [],
                commitDeadline: event.args.commitDeadline,
                revealDeadline: event.args.revealDeadline,
                eventBlock: event.blockNumber,
              });
          },
        },
      },
    }),
  ];
}

/**
 * A dispute's private committee selection opened (in any draw round: a round that formed no committee is followed by
 * a window of its own): every node records a committee duty (the event names nobody), or reopens the one the earlier
 * window left, so its step evaluates the node's VRF on this window's seed; a node not selected forgets it.
 */
function committeeSelectionSource(chain: NodeSeat, address: `0x${string}`): ChainEventSource {
  return eventSource({
    name: "committee-selection",
    address,
    abi: disputeSelectionAbi,
    handlers: {
      CommitteeSelectionOpened: {
        async read(event) {
          if ((await chain.nodeId()) === undefined) return undefined;
          const dispute = await readDispute(chain, event.args.disputeId);
          // Consensus disputes are another worker's.
          if (dispute.kind !== DisputeKind.Attestation) return undefined;
          return ({ db }) =>
            recordSelectionWindow(db, {
              kind: "committee",
              stackId: dispute.originId,
              round: event.args.disputeId,
              indices: [],
              commitDeadline: event.args.endsAt,
              eventBlock: event.blockNumber,
            });
        },
      },
    },
  });
}
