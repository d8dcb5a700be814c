import { attestationRegistryAbi, nodeRegistryAbi } from "@atoma/contracts";
import { AttestationKind, type AttestationKindName, type Hash } from "@atoma/core";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface PostAttestationParams {
  nodeId: bigint;
  kind: AttestationKindName;
  /** `evidenceHash(kind, quote)` of @atoma/core: the evidence the node serves at `GET /v1/attestation`. */
  evidenceHash: Hash;
  /** The node's X25519 public key (32 bytes) the evidence's report data binds. */
  encryptionKey: Hash;
  /** `measurementHash(kind, registers)` of @atoma/core: the registers the evidence reports. */
  measurement: Hash;
  /** Unix seconds; at most the registry's `maxValidity` from now. */
  expiresAt: bigint;
  /** The epoch the evidence's report data binds; it must be the current one. @default the current epoch */
  epoch?: bigint | undefined;
  /** The evidence carries GPU evidence (an NVIDIA token for the same report data). @default false */
  gpu?: boolean | undefined;
}

/**
 * Posts the node's attestation record (the sender must be its operator or signer), replacing the previous one.
 * Reverts with `StaleEpoch`, `EvidenceReused`, `InvalidExpiry`, `NotNodeActor` or `NodeNotActive`.
 */
export async function postAttestation(ctx: ChainContext, params: PostAttestationParams): Promise<TxInfo> {
  const epoch =
    params.epoch ??
    (await ctx.publicClient.readContract({
      address: ctx.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "currentEpoch",
    }));
  const receipt = await execute(ctx, {
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "post",
    args: [
      params.nodeId,
      AttestationKind[params.kind],
      epoch,
      params.evidenceHash,
      params.encryptionKey,
      params.measurement,
      params.expiresAt,
      params.gpu ?? false,
    ],
  });
  return txInfo(receipt);
}
