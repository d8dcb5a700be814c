import { type Hash, keccak256, type LocalAccount } from "viem";

/**
 * The secret salt of a committee vote, derived from the node's key (deterministic signatures), so a restarted node
 * reveals with the salt it committed with and nothing secret is stored.
 */
export async function voteSalt(
  account: LocalAccount,
  where: { chainId: number; disputeManager: string; disputeId: bigint; nodeId: bigint },
): Promise<Hash> {
  const message = `atoma dispute vote salt ${where.chainId} ${where.disputeManager.toLowerCase()} ${where.disputeId} ${where.nodeId}`;
  return keccak256(await account.signMessage({ message }));
}
