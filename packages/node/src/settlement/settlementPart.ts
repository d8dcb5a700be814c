import { dutyEnvOf } from "../duties/dutyEnv.js";
import type { NodePartFactory } from "../service/nodePart.js";
import { settlementAddresses } from "./settlementContracts.js";
import { settlementEventSources } from "./settlementEvents.js";
import { SettlementWorker } from "./settlementWorker.js";

/**
 * The settlement worker as a node part: the listener records what the chain says about this node's stacks
 * (owner closes, sampling, reveal and data requests, acceptance, payouts) and the worker's loop acts on it.
 * Needs `chain.contracts` with NodeRegistry, AtomaVault, StackManager, SettlementManager, DisputeManager and ChallengeManager;
 * until the signing key is registered it waits.
 */
export const settlementPart: NodePartFactory = (context) => {
  if (!settlementAddresses(context.config.chain.contracts)) {
    context.logger.warn({}, "chain.contracts names no deployment: the settlement worker does not run");
    return { name: "settlement" };
  }
  const { settlement } = context.config;
  const worker = new SettlementWorker(
    // Settlement transactions keep within the operator's fee caps (the seat's other senders have deadlines).
    { ...dutyEnvOf(context, "settlement"), seat: context.seat.feeCapped, blobs: context.blobs },
    {
      minRemainingUnits: settlement.minRemainingUnits,
      beforeExpirySeconds: settlement.beforeExpirySeconds,
      idleSeconds: settlement.idleSeconds,
      pollIntervalMs: settlement.pollIntervalMs,
      autoClaim: settlement.autoClaim,
      chainId: context.config.chain.chainId,
    },
  );
  return {
    name: "settlement",
    eventSources: settlementEventSources(context.seat.addresses, context.metrics),
    start: async () => worker.start(),
    stop: () => worker.stop(),
  };
};
