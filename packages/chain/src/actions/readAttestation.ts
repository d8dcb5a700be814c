import { attestationRegistryAbi, attestationStandingNames } from "@atoma/contracts";
import type { AttestationKindName, Hash } from "@atoma/core";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";
import { getTask } from "./getTask.js";

type ReadContext = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, "AttestationRegistry" | "TaskRegistry">;
};

/** A node's attestation record as the chain holds it. */
export interface AttestationRecord {
  kind: AttestationKindName;
  evidenceHash: Hash;
  encryptionKey: Hash;
  measurement: Hash;
  epoch: bigint;
  postedAt: bigint;
  expiresAt: bigint;
  /** The node declared GPU evidence with it (checked by clients, not by the chain). */
  gpu: boolean;
}

const KINDS: readonly (AttestationKindName | undefined)[] = [undefined, "tdx", "dev"];

/** The node's attestation record, current or expired; undefined when it never posted one. */
export async function getAttestation(
  ctx: ReadContext,
  nodeId: bigint,
  at: { blockNumber?: bigint | undefined } = {},
): Promise<AttestationRecord | undefined> {
  const r = await ctx.publicClient.readContract({
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "attestationOf",
    args: [nodeId],
    ...(at.blockNumber !== undefined && { blockNumber: at.blockNumber }),
  });
  const kind = KINDS[r.kind];
  if (kind === undefined) return undefined;
  return {
    kind,
    evidenceHash: r.evidenceHash,
    encryptionKey: r.encryptionKey,
    measurement: r.measurement,
    epoch: r.epoch,
    postedAt: r.postedAt,
    expiresAt: r.expiresAt,
    gpu: r.gpu,
  };
}

/** Whether task `taskId` requires GPU evidence of its nodes. */
export function gpuRequired(
  ctx: ReadContext,
  params: { taskId: bigint; blockNumber?: bigint | undefined },
): Promise<boolean> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "gpuRequiredFor",
    args: [params.taskId],
    ...(params.blockNumber !== undefined && { blockNumber: params.blockNumber }),
  });
}

/** Why a node may or may not serve a confidential task now: "Ok", or the first check it fails. */
export type AttestationStandingName = (typeof attestationStandingNames)[number];

/** The node's standing on confidential task `taskId` now, as the registry checks it at subscription and purchase. */
export async function attestationStanding(
  ctx: ReadContext,
  params: { taskId: bigint; nodeId: bigint; blockNumber?: bigint | undefined },
): Promise<AttestationStandingName> {
  const task = await getTask(ctx, params.taskId);
  const standing = await ctx.publicClient.readContract({
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "standing",
    args: [params.taskId, task.modelId, params.nodeId],
    ...(params.blockNumber !== undefined && { blockNumber: params.blockNumber }),
  });
  const name = attestationStandingNames[standing];
  if (name === undefined) throw new RangeError(`unknown attestation standing ${standing}`);
  return name;
}
