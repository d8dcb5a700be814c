import { type ChainContext, ChallengeStatus, getChallenge } from "@atoma/chain";
import { challengeManagerAbi } from "@atoma/contracts";

/** How far back (blocks) the logs are read for challenges opened before a restart or lost track of. */
export const RECOVERY_BLOCKS = 100_000n;

/** The most stack ids one log query filters on (each is a topic value of the query). */
const STACKS_PER_QUERY = 100;

/** A challenge the wallet opened, as the chain holds it now. */
export interface OwnChallenge {
  challengeId: bigint;
  stackId: bigint;
  nodeId: bigint;
  kind: "receipt" | "index";
  leafIndex: bigint;
  open: boolean;
  answerDeadline: bigint;
  /** The block the challenge opened in: its answer is logged at or after it. */
  openedAt: bigint;
}

/**
 * Every challenge the context's wallet opened on `stackIds` in the last `RECOVERY_BLOCKS` blocks, from the
 * `ChallengeOpened` logs, with its state read from the chain (open or resolved). What a watcher that restarted,
 * or whose transaction outlived its wait, needs to follow its challenges again.
 */
export async function readOwnChallenges(
  chain: ChainContext,
  stackIds: readonly bigint[],
): Promise<OwnChallenge[]> {
  if (stackIds.length === 0) return [];
  const latest = await chain.publicClient.getBlockNumber();
  const fromBlock = latest > RECOVERY_BLOCKS ? latest - RECOVERY_BLOCKS : 0n;
  const me = chain.walletClient.account.address.toLowerCase();
  const found: OwnChallenge[] = [];
  for (let i = 0; i < stackIds.length; i += STACKS_PER_QUERY) {
    const logs = await chain.publicClient.getContractEvents({
      address: chain.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId: stackIds.slice(i, i + STACKS_PER_QUERY) },
      fromBlock,
      toBlock: latest,
    });
    for (const log of logs) {
      const { challengeId, stackId, leafIndex, leaf } = log.args;
      if (challengeId === undefined || stackId === undefined || leafIndex === undefined) continue;
      const challenge = await getChallenge(chain, challengeId);
      if (challenge.owner.toLowerCase() !== me) continue;
      found.push({
        challengeId,
        stackId,
        nodeId: challenge.nodeId,
        kind: leaf === undefined || BigInt(leaf) === 0n ? "index" : "receipt",
        leafIndex,
        open: challenge.status === ChallengeStatus.Open,
        answerDeadline: challenge.answerDeadline,
        openedAt: log.blockNumber,
      });
    }
  }
  return found;
}
