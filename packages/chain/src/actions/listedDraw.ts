import { stackManagerAbi, taskRegistryAbi } from "@atoma/contracts";
import { encodeAbiParameters, type Hex, keccak256, toHex } from "viem";
import type { NodeCandidate } from "./buyStack.js";
import type { ChainContext } from "./context.js";

/**
 * `StackManager.LISTED`: the word heading a listed purchase's candidates hash, `keccak256(abi.encode(LISTED,
 * candidates))`; no walked or set purchase's encoding can begin with it.
 */
const LISTED = keccak256(toHex("atoma.listed"));
/** `ITaskRegistry.SecurityLevel.CrossValidation`. */
const CROSS_VALIDATION = 1;

const candidateList = [
  {
    type: "tuple[]",
    components: [
      { name: "nodeId", type: "uint64" },
      { name: "pricePerMillion", type: "uint128" },
    ],
  },
] as const;

/** A candidate list in increasing node order, as `buyStackAmong` takes it. */
export function listedOrder(candidates: readonly NodeCandidate[]): NodeCandidate[] {
  return [...candidates].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** Whether `candidatesHash` (a purchase's) froze `candidates` as a listed purchase (`buyStackAmong`). */
export function isListedHash(candidatesHash: Hex, candidates: readonly NodeCandidate[]): boolean {
  const listed = keccak256(
    encodeAbiParameters([{ type: "bytes32" }, ...candidateList], [LISTED, candidates.map((c) => ({ ...c }))]),
  );
  return listed === candidatesHash;
}

/**
 * The checkers to name to `drawListed` for a listed purchase: the node its draw gives (simulated on the pending
 * block) and, on a verified task, the task's attesters plus `minCommittee()` other nodes of that node's echelon
 * among the subscribers that may take new work, in increasing order. Empty when the draw would not open the stack
 * or the task is not verified or the echelon holds too few (the contract then counts the subscribers itself, and
 * cancels when they are too few): the names only spare the draw that count.
 */
export async function checkersForListedDraw(
  ctx: ChainContext,
  stackId: bigint,
  candidates: readonly NodeCandidate[],
): Promise<bigint[]> {
  const { publicClient, addresses } = ctx;
  const manager = { address: addresses.StackManager, abi: stackManagerAbi } as const;
  const stack = await publicClient.readContract({ ...manager, functionName: "getStack", args: [stackId] });
  const task = await publicClient.readContract({
    address: addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "getTask",
    args: [stack.taskId],
  });
  if (Number(task.securityLevel) !== CROSS_VALIDATION) return [];
  let nodeId: bigint;
  try {
    ({ result: nodeId } = await publicClient.simulateContract({
      ...manager,
      functionName: "drawListed",
      args: [stackId, candidates.map((c) => ({ ...c })), []],
      account: ctx.walletClient.account,
      blockTag: "pending",
    }));
  } catch {
    return [];
  }
  if (nodeId === 0n) return [];
  const [pool, committee] = await Promise.all([
    publicClient.readContract({
      address: addresses.TaskRegistry,
      abi: taskRegistryAbi,
      functionName: "offers",
      args: [stack.taskId, 0n, 0n],
    }),
    publicClient.readContract({ ...manager, functionName: "minCommittee" }),
  ]);
  const needed = Number(task.attesters) + Number(committee);
  const echelon = pool.find((o) => o.nodeId === nodeId)?.echelon;
  if (echelon === undefined) return [];
  const peers = pool
    .filter((o) => o.echelon === echelon && o.nodeId !== nodeId)
    .map((o) => o.nodeId)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return peers.length < needed ? [] : peers.slice(0, needed);
}
