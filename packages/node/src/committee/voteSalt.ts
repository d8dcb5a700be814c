import { type Hash, keccak256, type LocalAccount } from "viem";
import type { CommitteeVoter } from "./committeeVoter.js";

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

/**
 * The salt a vote is sealed and revealed with: the one derived from the node's key, unless the vote's row holds
 * a random salt (stored by consensus votes before salts were derived), so that a node upgraded between its
 * commitment and its reveal still reveals what it committed.
 */
export async function saltOfVote(
  voter: CommitteeVoter,
  vote: { disputeId: bigint; nodeId: bigint; storedSalt?: Hash | undefined },
): Promise<Hash> {
  if (vote.storedSalt) return vote.storedSalt;
  return voteSalt(voter.account, {
    chainId: voter.seat.chainId,
    disputeManager: voter.seat.addresses.DisputeManager,
    disputeId: vote.disputeId,
    nodeId: vote.nodeId,
  });
}
