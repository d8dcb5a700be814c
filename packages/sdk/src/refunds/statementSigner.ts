import { type ServedEvidence, servedEvidenceTypedData } from "@atoma/chain/portable";
import { recoverDigestSignature } from "@atoma/core";
import { type Address, type Hex, hashTypedData } from "viem";

/**
 * The signer of a node's `ServedEvidence` statement on `registry` (the `AttestationRegistry`), with the contract's
 * refusals: a signature that is not 65 bytes with v 27/28, or whose s is in the upper half, recovers to nobody here
 * as it does on-chain (a claim built on it could only fail). Undefined for any signature that does not check.
 */
export async function statementSigner(
  chainId: number,
  registry: Address,
  statement: ServedEvidence & { signature: Hex },
): Promise<Address | undefined> {
  try {
    const { nodeId, epoch, evidenceHash } = statement;
    const digest = hashTypedData(servedEvidenceTypedData(chainId, registry, { nodeId, epoch, evidenceHash }));
    return await recoverDigestSignature(digest, statement.signature);
  } catch {
    return undefined;
  }
}
