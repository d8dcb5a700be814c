import { readMaxOutputBytes } from "@atoma/chain";
import { VrfKeyMismatchError } from "../attestation/errors.js";
import { sharedVrfKeyKeeper } from "../attestation/vrfKey.js";
import { dutyEnvOf } from "../duties/dutyEnv.js";
import type { NodePart, NodePartFactory } from "../service/nodePart.js";
import { missingContracts } from "../service/nodeSeat.js";
import { DEFAULT_MAX_OUTPUT_TOKENS } from "./consensusBody.js";
import { consensusEventSources } from "./consensusEvents.js";
import { ConsensusWorker } from "./consensusWorker.js";
import { consensusSelectionSources } from "./selectionEvents.js";
import { Turns } from "./turns.js";

/** The contracts the consensus part talks to. */
const CONSENSUS_CONTRACTS = ["ConsensusRequests", "DisputeManager", "NodeRegistry", "TaskRegistry"] as const;

export interface ConsensusPartOptions {
  /** Milliseconds between the worker's passes over open duties. @default 500 */
  pollIntervalMs?: number | undefined;
  /** Most tokens a request's output may have (also bounded by its units). @default 256 */
  maxOutputTokens?: number | undefined;
  /** Failed attempts after which a duty is given up. @default 20 */
  maxAttempts?: number | undefined;
  /**
   * Milliseconds each node waits per rank before taking a step anyone may take (deliver, close a round, resolve):
   * the first seat goes at once, the next after this long, and so on. @default 3000
   */
  turnGraceMs?: number | undefined;
}

/**
 * n-node Sampling Consensus for smart-contract requests (whitepaper §2.6): the node computes the requests it is
 * sampled for, commits root and leaf, delivers the agreed output, votes on the committees of consensus disputes
 * it is drawn for, and calls the timeout and resolve entry points when due. Inert (with a warning) when
 * `chain.contracts` lacks ConsensusRequests, DisputeManager, NodeRegistry or TaskRegistry, or when the node's
 * signing address is not registered yet (it reads its node id once, at start).
 */
export function consensusPart(options: ConsensusPartOptions = {}): NodePartFactory {
  return async (context): Promise<NodePart> => {
    const logger = context.logger.child({ module: "consensus" });
    const { seat } = context;
    const missing = missingContracts(seat, CONSENSUS_CONTRACTS);
    if (missing.length > 0) {
      logger.warn({ missing }, "consensus duties off: chain.contracts lacks these addresses");
      return { name: "consensus" };
    }
    const nodeId = await seat.nodeId();
    if (nodeId === undefined) {
      logger.warn(
        {
          reason: `the signing address ${context.account.address} is not registered as a node (atoma node register)`,
        },
        "consensus duties off until the node is registered and restarted",
      );
      return { name: "consensus" };
    }
    const maxOutputBytes = await readMaxOutputBytes(seat);
    // Asked for now so that a node-owned engine is made and started before the parts start.
    const engine = context.engine();
    const vrfKeys = seat.addresses.DisputeSelection
      ? sharedVrfKeyKeeper(seat, context.account, logger.child({ module: "vrf" }))
      : undefined;
    const worker = new ConsensusWorker(
      {
        ...dutyEnvOf(context, "consensus", () => engine),
        admission: context.admission,
        nodeId,
        model: context.config.model.id,
        maxOutputTokens: options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
        maxOutputBytes,
        fromBlock: BigInt(context.config.chain.startBlock),
        turns: new Turns(options.turnGraceMs ?? 3_000),
        vrfKeys,
        blockTimeMs: context.config.chain.blockTimeMs,
      },
      { pollIntervalMs: options.pollIntervalMs ?? 500, maxAttempts: options.maxAttempts ?? 20 },
    );
    return {
      name: "consensus",
      eventSources: [
        ...consensusEventSources(seat.addresses, nodeId, logger),
        ...consensusSelectionSources(seat, nodeId),
      ],
      start: async () => {
        // Registers the VRF key now (a key registered after a dispute froze its candidates never sits on it).
        await vrfKeys?.key().catch((error: unknown) => {
          if (error instanceof VrfKeyMismatchError) throw error;
          logger.warn({ err: String(error) }, "VRF key not registered yet; retried at the first selection");
        });
        worker.start();
      },
      stop: () => worker.stop(),
    };
  };
}
