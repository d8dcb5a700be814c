import {
  type AtomaAddresses,
  createAtomaWalletClient,
  describeRevert,
  modelIdOf,
  nodeIdOfSigner,
  reportWeightsMismatch,
} from "@atoma/chain";
import type { Address } from "viem";
import type { NodeContext, NodePart, NodePartFactory } from "../service/nodePart.js";
import { checkRegisteredWeights } from "./registeredWeights.js";
import { RegisteredWeightsMismatchError } from "./weightsErrors.js";

export interface WeightsCheckOptions {
  /** On a mismatch, also report it to the ModelRegistry (enough reports disable the model). @default false */
  reportMismatch?: boolean | undefined;
}

/**
 * A part that refuses to let the node start unless its model file has the weights root registered on-chain
 * for `model.id` (see `checkRegisteredWeights`). Without `chain.contracts.ModelRegistry` there is nothing to
 * check against: it logs a warning and lets the node start.
 */
export function weightsCheckPart(options: WeightsCheckOptions = {}): NodePartFactory {
  return async (context): Promise<NodePart> => {
    const logger = context.logger.child({ module: "weights-check" });
    const { ModelRegistry, NodeRegistry } = context.config.chain.contracts as Partial<AtomaAddresses>;
    if (ModelRegistry === undefined) {
      logger.warn(
        {},
        "chain.contracts.ModelRegistry is not set: the model's weights root is not checked on-chain",
      );
      return { name: "weights-check" };
    }
    const model = { name: context.config.model.id, path: context.config.model.path };
    try {
      const checked = await checkRegisteredWeights(
        { publicClient: context.chain, addresses: { ModelRegistry } },
        model,
      );
      logger.info(
        { model: model.name, root: checked.root },
        "weights root matches the on-chain registration",
      );
    } catch (error) {
      if (error instanceof RegisteredWeightsMismatchError && options.reportMismatch)
        await report(context, { ModelRegistry, NodeRegistry });
      throw error;
    }
    return { name: "weights-check" };
  };
}

/** Best effort: the node refuses to start either way, so a failed report is logged, not thrown. */
async function report(
  context: NodeContext,
  contracts: { ModelRegistry: Address; NodeRegistry: Address | undefined },
): Promise<void> {
  const logger = context.logger.child({ module: "weights-check" });
  if (contracts.NodeRegistry === undefined) {
    logger.warn({}, "chain.contracts.NodeRegistry is not set: cannot report the weights mismatch");
    return;
  }
  const addresses = { ...context.config.chain.contracts } as unknown as AtomaAddresses;
  const nodeId = await nodeIdOfSigner({ publicClient: context.chain, addresses }, context.account.address);
  if (nodeId === 0n) {
    logger.warn({}, "this node is not registered: cannot report the weights mismatch");
    return;
  }
  try {
    const walletClient = createAtomaWalletClient(context.config.chain, context.account);
    const reported = await reportWeightsMismatch(
      { publicClient: context.chain, walletClient, addresses },
      { modelId: modelIdOf(context.config.model.id), nodeId },
    );
    logger.warn(
      { tx: reported.hash, reports: reported.reports, disabled: reported.disabled },
      "reported the weights mismatch on-chain",
    );
  } catch (error) {
    logger.error({ err: describeRevert(error) ?? String(error) }, "could not report the weights mismatch");
  }
}
