import { type Hash, keccak256, type LocalAccount } from "viem";

/**
 * The secret salt of an attester's commitment, derived the same way as a committee vote's
 * (`committee/voteSalt.ts`): a deterministic signature by the node's key over where it attests (another message,
 * so no vote salt is ever an attestation salt). Nobody without the key can compute it, so a peer cannot test the
 * commitment against the server's claimed result; a restarted node opens with the salt it committed with, and
 * nothing secret is stored.
 */
export async function attestationSalt(
  account: LocalAccount,
  where: { chainId: number; settlementManager: string; stackId: bigint; nodeId: bigint },
): Promise<Hash> {
  const message = `atoma attestation salt ${where.chainId} ${where.settlementManager.toLowerCase()} ${where.stackId} ${where.nodeId}`;
  return keccak256(await account.signMessage({ message }));
}
