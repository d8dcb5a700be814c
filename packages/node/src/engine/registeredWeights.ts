import { type AtomaAddresses, type ChainContext, getModel, ModelStatus, modelIdOf } from "@atoma/chain";
import type { Hash } from "@atoma/core";
import { weightsRoot } from "@atoma/engine";
import type { Hex } from "viem";
import {
  ModelNotActiveError,
  ModelNotRegisteredError,
  RegisteredWeightsMismatchError,
} from "./weightsErrors.js";

export interface RegisteredWeights {
  /** The model's on-chain id, H(name). */
  modelId: Hex;
  /** The root both the file and the registration have. */
  root: Hash;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(ModelStatus).map(([name, value]) => [value, name]));

/**
 * Checks a model file against its ModelRegistry registration: the model must be registered under `H(name)`,
 * active (or pending whitelisting), and its file must have the registered weights root. Throws
 * `ModelNotRegisteredError`, `ModelNotActiveError` or `RegisteredWeightsMismatchError` otherwise.
 */
export async function checkRegisteredWeights(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "ModelRegistry"> },
  model: { name: string; path: string },
): Promise<RegisteredWeights> {
  const modelId = modelIdOf(model.name);
  const registered = await getModel(ctx, modelId);
  if (registered.status === ModelStatus.None) throw new ModelNotRegisteredError(model.name, modelId);
  if (registered.status !== ModelStatus.Active && registered.status !== ModelStatus.Pending)
    throw new ModelNotActiveError(model.name, (STATUS_NAMES[registered.status] ?? "unknown").toLowerCase());
  const local = await weightsRoot(model.path);
  if (local.toLowerCase() !== registered.weightsRoot.toLowerCase())
    throw new RegisteredWeightsMismatchError(model.name, registered.weightsRoot, local);
  return { modelId, root: local };
}
