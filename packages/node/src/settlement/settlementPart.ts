import type { NodePartFactory } from "../service/nodePart.js";
import { connectSettlementChain } from "./settlementChain.js";
import { settlementEventSources } from "./settlementEvents.js";
import { SettlementWorker } from "./settlementWorker.js";

/**
 * The settlement worker as a node part: the listener records what the chain says about this node's stacks
 * (owner closes, sampling, reveal and data requests, acceptance, payouts) and the worker's loop acts on it.
 * Needs `chain.contracts` with NodeRegistry, AtomaVault, StackManager and SettlementManager, and a registered key.
 */
export const settlementPart: NodePartFactory = async (context) => {
  const chain = await connectSettlementChain(context);
  const { settlement } = context.config;
  const worker = new SettlementWorker(
    { db: context.db, blobs: context.blobs, chain, logger: context.logger, metrics: context.metrics },
    {
      minRemainingUnits: settlement.minRemainingUnits,
      beforeExpirySeconds: settlement.beforeExpirySeconds,
      pollIntervalMs: settlement.pollIntervalMs,
      autoClaim: settlement.autoClaim,
      chainId: context.config.chain.chainId,
    },
  );
  return {
    name: "settlement",
    eventSources: settlementEventSources(chain.contracts, chain.nodeId, context.metrics),
    start: () => worker.start(),
    stop: () => worker.stop(),
  };
};
