import { attestationRegistryAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/** Where an allow-list entry or the dev flag applies: one task, or every task of one model. */
export type AttestationScope = { taskId: bigint } | { modelId: Hash };

/**
 * Governance allows (or withdraws) `measurement` (`measurementHash` of @atoma/core) for a task or a model. A
 * withdrawn measurement lets anyone drop the subscriptions it carried (`dropUnattested`).
 */
export async function setAllowedMeasurement(
  ctx: ChainContext,
  params: AttestationScope & { measurement: Hash; allowed: boolean },
): Promise<TxInfo> {
  const receipt = await execute(
    ctx,
    "taskId" in params
      ? {
          address: ctx.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "setTaskMeasurement",
          args: [params.taskId, params.measurement, params.allowed],
        }
      : {
          address: ctx.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "setModelMeasurement",
          args: [params.modelId, params.measurement, params.allowed],
        },
  );
  return txInfo(receipt);
}

/**
 * Governance requires (or no longer requires) GPU evidence on a task: only nodes whose record declares it subscribe
 * and are drawn or bought from; requiring it lets anyone drop the others' subscriptions (`dropUnattested`).
 */
export async function setGpuRequired(
  ctx: ChainContext,
  params: { taskId: bigint; required: boolean },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "setGpuRequired",
    args: [params.taskId, params.required],
  });
  return txInfo(receipt);
}

/**
 * Governance accepts (or refuses again) dev-kind records, which no hardware backs, on one task, or on every task
 * of the network (`{ network: true }`, for a development network only). Refused everywhere until set.
 */
export async function setDevAttestation(
  ctx: ChainContext,
  params: ({ taskId: bigint } | { network: true }) & { allowed: boolean },
): Promise<TxInfo> {
  const receipt = await execute(
    ctx,
    "taskId" in params
      ? {
          address: ctx.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "setDevAllowed",
          args: [params.taskId, params.allowed],
        }
      : {
          address: ctx.addresses.AttestationRegistry,
          abi: attestationRegistryAbi,
          functionName: "setDevNetwork",
          args: [params.allowed],
        },
  );
  return txInfo(receipt);
}
