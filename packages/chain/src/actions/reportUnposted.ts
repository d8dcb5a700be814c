import { attestationRegistryAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import type { Address, Hex } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/**
 * What a confidential node's signer signs beside the epoch evidence it serves: "this evidence is my record on the
 * AttestationRegistry". A statement for evidence the node never posted convicts it (`reportUnposted`).
 */
export interface ServedEvidence {
  nodeId: bigint;
  epoch: bigint;
  /** `evidenceHash(kind, quote)` of @atoma/core over the evidence served. */
  evidenceHash: Hash;
}

/** The EIP-712 typed data of a `ServedEvidence` statement (the registry's own domain). */
export function servedEvidenceTypedData(chainId: number, registry: Address, statement: ServedEvidence) {
  return {
    domain: { name: "AtomaAttestation", version: "1", chainId, verifyingContract: registry },
    types: {
      ServedEvidence: [
        { name: "nodeId", type: "uint256" },
        { name: "epoch", type: "uint64" },
        { name: "evidenceHash", type: "bytes32" },
      ],
    },
    primaryType: "ServedEvidence",
    message: statement,
  } as const;
}

/**
 * Proves that a node served (and signed for) evidence it never posted: its record is revoked, its posts banned
 * until the next epoch but one, and it is slashed as for a timeout, the caller taking the user's share. Reverts
 * with `StatementSignatureInvalid` (not its signer's), `EvidencePosted` (it did post it: nothing to report) or
 * `EpochNotOver` (a hash never posted, for an epoch not yet over: the node may still post it).
 */
export async function reportUnposted(
  ctx: ChainContext,
  statement: ServedEvidence & { signature: Hex },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "reportUnposted",
    args: [statement.nodeId, statement.epoch, statement.evidenceHash, statement.signature],
  });
  return txInfo(receipt);
}
