import { describeRevert, modelIdOf, reportWeightsMismatch } from "@atoma/chain";
import type { NodeContext, NodePart, NodePartFactory } from "../service/nodePart.js";
import { missingContracts } from "../service/nodeSeat.js";
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
    if (missingContracts(context.seat, ["ModelRegistry"]).length > 0) {
      logger.warn(
        {},
        "chain.contracts.ModelRegistry is not set: the model's weights root is not checked on-chain",
      );
      return { name: "weights-check" };
    }
    const model = { name: context.config.model.id, path: context.config.model.path };
    try {
      const checked = await checkRegisteredWeights(context.seat, model);
      logger.info(
        { model: model.name, root: checked.root },
        "weights root matches the on-chain registration",
      );
    } catch (error) {
      if (error instanceof RegisteredWeightsMismatchError && options.reportMismatch) await report(context);
      throw error;
    }
    return { name: "weights-check" };
  };
}

/** Best effort: the node refuses to start either way, so a failed report is logged, not thrown. */
async function report(context: NodeContext): Promise<void> {
  const logger = context.logger.child({ module: "weights-check" });
  if (missingContracts(context.seat, ["NodeRegistry"]).length > 0) {
    logger.warn({}, "chain.contracts.NodeRegistry is not set: cannot report the weights mismatch");
    return;
  }
  const nodeId = await context.seat.nodeId();
  if (nodeId === undefined) {
    logger.warn({}, "this node is not registered: cannot report the weights mismatch");
    return;
  }
  try {
    const reported = await reportWeightsMismatch(context.seat, {
      modelId: modelIdOf(context.config.model.id),
      nodeId,
    });
    logger.warn(
      { tx: reported.hash, reports: reported.reports, disabled: reported.disabled },
      "reported the weights mismatch on-chain",
    );
  } catch (error) {
    logger.error({ err: describeRevert(error) ?? String(error) }, "could not report the weights mismatch");
  }
}
