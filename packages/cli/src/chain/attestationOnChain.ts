import {
  attestationStanding,
  getAttestation,
  getSubscription,
  getTask,
  SecurityLevel,
  stackManagerAbi,
  taskRegistryAbi,
} from "@atoma/chain";
import type { TdMeasurements } from "@atoma/confidential";
import { type AttestationKindName, measurementHash } from "@atoma/core";
import type { VerifyChain } from "@atoma/sdk";
import type { Address } from "viem";

/** One check of the node's attestation against the chain, as `atoma attest` prints it. */
export interface ChainCheck {
  name: "record" | "record_key" | "record_measurement" | "allowed";
  status: "passed" | "failed";
  detail: string;
  code?: string;
}

const STANDING_CODES: Record<string, string> = {
  None: "attestation_record_missing",
  Expired: "attestation_record_expired",
  Measurement: "attestation_measurement_not_allowed",
  Dev: "attestation_dev_not_allowed",
};

/** The TaskRegistry and AttestationRegistry behind the StackManager (the network file may not name them). */
async function registries(
  chain: VerifyChain,
): Promise<{ TaskRegistry: Address; AttestationRegistry: Address }> {
  const TaskRegistry = await chain.publicClient.readContract({
    address: chain.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "taskRegistry",
  });
  const AttestationRegistry = await chain.publicClient.readContract({
    address: TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "attestations",
  });
  return { TaskRegistry, AttestationRegistry };
}

/** The active level-3 tasks `nodeId` is subscribed to (or just `taskId` when one is named). */
async function confidentialTasks(
  ctx: Parameters<typeof getTask>[0],
  nodeId: bigint,
  taskId: bigint | undefined,
): Promise<bigint[]> {
  if (taskId !== undefined) return [taskId];
  const count = await ctx.publicClient.readContract({
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "taskCount",
  });
  const found: bigint[] = [];
  for (let id = 1n; id <= count; id++) {
    const task = await getTask(ctx, id);
    if (!task.active || Number(task.securityLevel) !== SecurityLevel.Confidential) continue;
    const subscription = await getSubscription(ctx, { taskId: id, nodeId });
    if (subscription.active) found.push(id);
  }
  return found;
}

/**
 * The chain's side of a node's attestation: its record (present and unexpired, the key and measurement the
 * evidence shows), and that measurement on the allow-list of each confidential task it serves (or `taskId`), as the
 * AttestationRegistry's `standing` judges it (allowed for the task or its model; dev evidence accepted there).
 */
export async function chainAttestationChecks(
  chain: VerifyChain,
  nodeId: bigint,
  evidence: {
    kind: AttestationKindName;
    encryptionPublicKey: string;
    measurements?: TdMeasurements | undefined;
  },
  taskId?: bigint,
): Promise<ChainCheck[]> {
  const ctx = { publicClient: chain.publicClient, addresses: await registries(chain) };
  const record = await getAttestation(ctx, nodeId);
  if (!record)
    return [
      {
        name: "record",
        status: "failed",
        detail: "the chain holds no record",
        code: "attestation_record_missing",
      },
    ];
  const now = (await chain.publicClient.getBlock()).timestamp;
  const checks: ChainCheck[] = [
    now < record.expiresAt
      ? {
          name: "record",
          status: "passed",
          detail: `epoch ${record.epoch}, current until ${record.expiresAt}; its kind (${record.kind}) is the node's declaration, not verified on-chain (the evidence above is what this command verified)`,
        }
      : {
          name: "record",
          status: "failed",
          detail: `expired at ${record.expiresAt}`,
          code: "attestation_record_expired",
        },
    record.kind === evidence.kind &&
    record.encryptionKey.toLowerCase() === evidence.encryptionPublicKey.toLowerCase()
      ? { name: "record_key", status: "passed", detail: "the record names the evidence's key" }
      : {
          name: "record_key",
          status: "failed",
          detail: `the record names ${record.kind} key ${record.encryptionKey}`,
          code: "attestation_record_key_mismatch",
        },
  ];
  if (evidence.measurements) {
    const measured = measurementHash(evidence.kind, evidence.measurements);
    checks.push(
      measured.toLowerCase() === record.measurement.toLowerCase()
        ? { name: "record_measurement", status: "passed", detail: measured }
        : {
            name: "record_measurement",
            status: "failed",
            detail: `the record names ${record.measurement}, the evidence measures ${measured}`,
            code: "attestation_measurement_mismatch",
          },
    );
  }
  const tasks = await confidentialTasks(ctx, nodeId, taskId);
  if (tasks.length === 0)
    checks.push({
      name: "allowed",
      status: "failed",
      detail: "the node serves no active confidential task: no allow-list to check against (give --task)",
      code: "attestation_no_task",
    });
  for (const id of tasks) {
    const standing = await attestationStanding(ctx, { taskId: id, nodeId });
    checks.push(
      standing === "Ok"
        ? { name: "allowed", status: "passed", detail: `on task ${id}'s allow-list (the chain's)` }
        : {
            name: "allowed",
            status: "failed",
            detail: `task ${id}: ${standing}`,
            code: STANDING_CODES[standing] ?? "attestation_not_allowed",
          },
    );
  }
  return checks;
}
