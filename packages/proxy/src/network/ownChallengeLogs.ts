import { type ChainContext, ChallengeStatus, getChallenge } from "@atoma/chain";
import { challengeManagerAbi } from "@atoma/contracts";

/**
 * How far back (blocks) the logs are read for challenges no row of the gateway's database names: those opened
 * before the database kept them. Best effort: the rows are what the watcher follows.
 */
export const RECOVERY_BLOCKS = 100_000n;

/** The most blocks one `eth_getLogs` call asks for by default (hosted RPCs cap the range; the node's own default). */
export const DEFAULT_LOG_BLOCKS = 2_000n;

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

export interface OwnChallengeRange {
  /** The first block read; @default `RECOVERY_BLOCKS` before the head */
  fromBlock?: bigint | undefined;
  /** The most blocks one `eth_getLogs` call asks for (review rev W-2). @default `DEFAULT_LOG_BLOCKS` */
  maxBlocks?: bigint | undefined;
}

/**
 * Every challenge the context's wallet opened on `stackIds` from `fromBlock` to the head, from the
 * `ChallengeOpened` logs read `maxBlocks` at a time, with its state read from the chain (open or resolved). What a
 * watcher needs to learn the id of a challenge whose transaction outlived its wait, or to follow challenges opened
 * before its database kept them.
 */
export async function readOwnChallenges(
  chain: ChainContext,
  stackIds: readonly bigint[],
  range: OwnChallengeRange = {},
): Promise<OwnChallenge[]> {
  if (stackIds.length === 0) return [];
  const latest = await chain.publicClient.getBlockNumber();
  const horizon = latest > RECOVERY_BLOCKS ? latest - RECOVERY_BLOCKS : 0n;
  const start = range.fromBlock ?? horizon;
  const span = range.maxBlocks !== undefined && range.maxBlocks > 0n ? range.maxBlocks : DEFAULT_LOG_BLOCKS;
  const me = chain.walletClient.account.address.toLowerCase();
  const found: OwnChallenge[] = [];
  for (let i = 0; i < stackIds.length; i += STACKS_PER_QUERY)
    for (let fromBlock = start; fromBlock <= latest; fromBlock += span) {
      const toBlock = fromBlock + span - 1n < latest ? fromBlock + span - 1n : latest;
      const logs = await chain.publicClient.getContractEvents({
        address: chain.addresses.ChallengeManager,
        abi: challengeManagerAbi,
        eventName: "ChallengeOpened",
        args: { stackId: stackIds.slice(i, i + STACKS_PER_QUERY) },
        fromBlock,
        toBlock,
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
