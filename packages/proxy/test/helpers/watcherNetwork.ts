import {
  answerIndexChallenge,
  type ChainContext,
  createTask,
  setNodeUrl,
  submitSettlement,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { challengeManagerAbi, TaskSecurityLevel } from "@atoma/contracts";
import { atomaDomain, leafHash, type StackLeaf, StackTree, signRequest } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import type { JournalFlusher } from "../../src/db/journalFlusher.js";
import type { OpenedDatabase } from "../../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../../src/network/networkCatalog.js";
import { StackPool } from "../../src/network/stackPool.js";
import { startFakeNode } from "./fakeNode.js";

export const WATCHER_MODEL = "tiny";

/**
 * A chain for the overclaim watcher's tests: `nodes` nodes subscribed to one chat task, each behind an honest fake
 * node, a funded gateway wallet and the catalog that reads them.
 */
export interface WatcherNetwork {
  devnet: Devnet;
  wallet: { account: LocalAccount; ctx: ChainContext };
  nodes: DevNode[];
  catalog: NetworkCatalog;
  stop(): Promise<void>;
}

export async function startWatcherNetwork(options: {
  disputeWindow: bigint;
  nodes: number;
}): Promise<WatcherNetwork> {
  const devnet = await startDevnet({ parameters: { settlement: { disputeWindow: options.disputeWindow } } });
  const fakes: Awaited<ReturnType<typeof startFakeNode>>[] = [];
  try {
    const { modelId } = await devnet.registerModel({ name: WATCHER_MODEL });
    const nodes: DevNode[] = [];
    for (let i = 0; i < options.nodes; i++) nodes.push(await devnet.addNode());
    fakes.push(
      ...(await Promise.all(
        nodes.map((node) =>
          startFakeNode(
            node.signerAccount,
            node.nodeId,
            devnet.anvil.chainId,
            devnet.deployment.addresses.StackManager,
            () => ({ kind: "honest" }),
          ),
        ),
      )),
    );
    const { taskId } = await createTask(devnet.admin, {
      modelId,
      role: TaskRole.Chat,
      securityLevel: TaskSecurityLevel.None,
    });
    for (const [i, node] of nodes.entries()) {
      await setNodeUrl(node.operator, { nodeId: node.nodeId, url: fakes[i]!.url });
      await subscribe(node.signer, {
        taskId,
        nodeId: node.nodeId,
        pricePerMillion: parseEther("1"),
        capacity: 10n ** 12n,
      });
    }
    await devnet.advance(3_600);
    const funded = await devnet.account(parseEther("100"));
    const catalog = new NetworkCatalog(
      readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }),
      {
        modelNames: [WATCHER_MODEL],
        nodeTimeoutMs: 200,
        allowPrivateNodeUrls: true,
      },
    );
    await catalog.refresh();
    const stop = async () => {
      for (const fake of fakes) await fake.stop();
      await devnet.stop();
    };
    return { devnet, wallet: { account: funded.account, ctx: funded.ctx }, nodes, catalog, stop };
  } catch (error) {
    for (const fake of fakes) await fake.stop();
    await devnet.stop();
    throw error;
  }
}

/** The gateway's stack pool over `opened`, buying at up to 3 TOMA per million, two stacks a model. */
export function watcherPool(
  net: WatcherNetwork,
  opened: OpenedDatabase,
  extra: { journal?: JournalFlusher; sharedWallet?: boolean } = {},
): StackPool {
  return new StackPool(
    { db: opened.db, chain: net.wallet.ctx, ...extra },
    {
      maxPricePerMillion: parseEther("3"),
      unitsPerStack: 100_000n,
      durationSeconds: 86_400n,
      maxStacksPerModel: 2,
    },
  );
}

/** A stack the pool bought at the node, closed at once (no request made on it). */
export async function closedStack(net: WatcherNetwork, pool: StackPool, nodeId: bigint): Promise<bigint> {
  const stack = await pool.lease(net.catalog.model(WATCHER_MODEL)!, 10n, [[nodeId]]);
  await pool.retire(stack, "test");
  await pool.closesDone();
  return stack.stackId;
}

/** The `ChallengeOpened` logs of the stack, oldest first. */
export function challengesOpenedOn(net: WatcherNetwork, stackId: bigint) {
  return net.wallet.ctx.publicClient.getContractEvents({
    address: net.devnet.deployment.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    eventName: "ChallengeOpened",
    args: { stackId },
    fromBlock: 0n,
  });
}

/** How a test's over-claim is laid out over three leaves whose requests the gateway signed with 10-unit bounds. */
export interface OverclaimShape {
  /** Text the request hashes are made of, so each test's leaves are its own. */
  label: string;
  /** The running total before leaf 0. */
  startTotal: bigint;
  /** The units the node claims at a nonce. */
  unitsAt(nonce: bigint): bigint;
  transcriptId: Hex;
}

/**
 * The node settles three leaves the gateway signed (nonces 0–2) as `shape` lays them out; returns the leaves, their
 * signed domain and how the node answers an index challenge on leaf `k` with its own proof.
 */
export async function settleOverclaim(
  net: WatcherNetwork,
  pool: StackPool,
  node: DevNode,
  stackId: bigint,
  shape: OverclaimShape,
) {
  const domain = atomaDomain(net.devnet.anvil.chainId, net.devnet.deployment.addresses.StackManager);
  const leaves: StackLeaf[] = [];
  const signatures: Hex[] = [];
  let total = shape.startTotal;
  for (let nonce = 0n; nonce < 3n; nonce++) {
    const reqHash = keccak256(stringToBytes(`${shape.label} ${stackId} ${nonce}`));
    await pool.markSigned(stackId, nonce, 10n);
    signatures.push(
      await signRequest(net.wallet.account, domain, {
        stackId,
        reqHash,
        nonce,
        deadline: 2n ** 40n,
        maxUnits: 10n,
      }),
    );
    const units = shape.unitsAt(nonce);
    total += units;
    leaves.push({
      leafIndex: nonce,
      nonce,
      reqHash,
      respHash: keccak256(reqHash),
      units,
      cumulativeUnits: total,
    });
  }
  const tree = new StackTree(leaves.map(leafHash));
  await submitSettlement(node.signer, {
    stackId,
    root: tree.root,
    units: total,
    requestCount: 3n,
    transcriptId: shape.transcriptId,
  });
  const answer = (k: number, challengeId: bigint) =>
    answerIndexChallenge(node.signer, {
      challengeId,
      leaf: leaves[k]!,
      deadline: 2n ** 40n,
      maxUnits: 10n,
      ownerSignature: signatures[k]!,
      proof: tree.proof(k),
      previous: leaves[k - 1],
      previousProof: k > 0 ? tree.proof(k - 1) : [],
    });
  return { domain, leaves, answer };
}

/** Three 10-unit leaves whose first running total already holds 50,000 units the node never served. */
export const WITHHELD_EXCESS: OverclaimShape = {
  label: "withheld",
  startTotal: 50_000n,
  unitsAt: () => 10n,
  transcriptId: `0x${"ce".repeat(32)}`,
};
