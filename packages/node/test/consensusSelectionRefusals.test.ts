import {
  type ChainContext,
  DisputeStatus,
  disputeSelectionAbi,
  drawCommittee,
  evaluateSelection,
  readDispute,
  readDisputeCandidates,
  registerVrfKey,
  selfSelectCommittee,
  submitConsensusRequest,
  vrfKeyUsableForDispute,
  vrfProofArgs,
} from "@atoma/chain";
import type { DevNode } from "@atoma/chain/devnet";
import { consensusRequestsAbi, nodeRegistryAbi } from "@atoma/contracts";
import { type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeVrfKey } from "../src/attestation/vrfKey.js";
import { consensusPart } from "../src/consensus/consensusPart.js";
import { getVote } from "../src/consensus/duties.js";
import { revertName } from "../src/consensus/revertName.js";
import {
  CLUSTER_MAX_OUTPUT_TOKENS,
  type ConsensusCluster,
  CLUSTER_ECHELON as ECHELON,
  CLUSTER_MAX_UNITS as MAX_UNITS,
  CLUSTER_PRICE as PRICE,
  startConsensusCluster,
  waitFor,
} from "../src/devnet/index.js";
import { type AtomaNode, createNode } from "../src/service/createNode.js";

/**
 * Issue 16, the consensus worker's refusals on a private committee selection (`selectionVote.ts`), each on real
 * anvil, contracts and nodes: a candidate whose VRF key is newer than the dispute's freeze block (`key_too_new`), a
 * candidate whose VRF output is over the threshold (`not_selected`), and a selected member whose dispute ends with
 * no committee (`no_committee`). In each case the node sends nothing it would lose on, and the chain would refuse it.
 */

const PROTOCOL_ROLE = keccak256(stringToBytes("PROTOCOL_ROLE"));
const DISPUTED = 4; // ConsensusRequests.Status.Disputed

async function disputeOf(cluster: ConsensusCluster, prompt: string): Promise<bigint> {
  const { network } = cluster;
  const { publicClient } = network.admin;
  const requester = await network.account();
  const { requestId } = await submitConsensusRequest(requester.ctx, {
    taskId: cluster.cheatTask,
    prompt: stringToHex(prompt),
    n: 3,
    maxUnits: MAX_UNITS,
    maxPricePerMillion: PRICE,
    echelon: ECHELON,
    callbackGas: 0,
  });
  await waitFor("the dispute", async () => {
    const request = await publicClient.readContract({
      address: network.deployment.addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      functionName: "getRequest",
      args: [requestId],
    });
    return request.status >= DISPUTED ? true : undefined;
  });
  const [disputed] = await publicClient.getContractEvents({
    address: network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ConsensusDisputed",
    args: { requestId },
    fromBlock: 0n,
    strict: true,
  });
  return disputed!.args.disputeId;
}

function selectionEvents(cluster: ConsensusCluster, disputeId: bigint) {
  return {
    address: cluster.network.deployment.addresses.DisputeSelection!,
    abi: disputeSelectionAbi,
    args: { disputeId },
    fromBlock: 0n,
    strict: true as const,
  };
}

async function windowOf(cluster: ConsensusCluster, disputeId: bigint) {
  const { publicClient } = cluster.network.admin;
  const [opened] = await waitFor("the selection window", async () => {
    const logs = await publicClient.getContractEvents({
      ...selectionEvents(cluster, disputeId),
      eventName: "CommitteeSelectionOpened",
    });
    return logs.length > 0 ? logs : undefined;
  });
  return opened!.args;
}

async function seatedIds(cluster: ConsensusCluster, disputeId: bigint): Promise<bigint[]> {
  const logs = await cluster.network.admin.publicClient.getContractEvents({
    ...selectionEvents(cluster, disputeId),
    eventName: "MemberSelfSelected",
  });
  return logs.map((log) => log.args.nodeId);
}

async function rowEnded(node: AtomaNode, disputeId: bigint) {
  return waitFor("the vote row to end", async () => {
    const row = await getVote(node.context.db, disputeId);
    return row?.state === "done" ? row : undefined;
  });
}

async function send(
  ctx: ChainContext,
  request: Parameters<ChainContext["walletClient"]["writeContract"]>[0],
) {
  const hash = await ctx.walletClient.writeContract(request);
  await ctx.publicClient.waitForTransactionReceipt({ hash });
}

describe("a selected member whose dispute ends with no committee (issue 16)", () => {
  let cluster: ConsensusCluster;
  beforeAll(async () => {
    cluster = await startConsensusCluster({ privateSelection: { window: 60, cap: 3 } });
  }, 240_000);
  afterAll(() => cluster?.stop(), 60_000);

  it("ends its row `no_committee` once every candidate lost its collateral and the rounds found nobody", {
    timeout: 300_000,
  }, async () => {
    const { network, chainNodes } = cluster;
    const { admin } = network;
    const disputeId = await disputeOf(cluster, "Is 9 prime?");
    const window = await windowOf(cluster, disputeId);
    // The candidates are nodes 3–5 (q = 1): each evaluates its VRF and sits with a sealed vote.
    const candidates = chainNodes.slice(2, 5).map((node) => node.nodeId);
    await waitFor("three self-selected seats", async () =>
      (await seatedIds(cluster, disputeId)).length === 3 ? true : undefined,
    );
    // Every candidate loses its collateral before the window ends (caught elsewhere; the test slashes them with
    // the protocol's role, as a dispute that convicted them would).
    await send(admin, {
      address: network.deployment.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "grantRole",
      args: [PROTOCOL_ROLE, admin.walletClient.account!.address],
      account: admin.walletClient.account!,
      chain: admin.walletClient.chain,
    });
    for (const nodeId of candidates) {
      await send(admin, {
        address: network.deployment.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "slashFraud",
        args: [nodeId, "0x0000000000000000000000000000000000000000", []],
        account: admin.walletClient.account!,
        chain: admin.walletClient.chain,
      });
    }
    await network.advance(Number(window.endsAt - (await network.now())) + 1);
    // Anyone moves the dispute on (the nodes race it): nobody seated holds collateral, the public draw finds
    // nobody in any round (a redraw delay apart), and the dispute ends with no committee.
    for (let i = 0; i < 40; i++) {
      const dispute = await readDispute(admin, disputeId);
      if (dispute.status !== DisputeStatus.Open) break;
      await drawCommittee(admin, { disputeId }).catch(() => undefined);
      await network.advance(dispute.drawBlock === 0n ? 3_601 : 1);
    }
    const dispute = await readDispute(admin, disputeId);
    expect(dispute.status).not.toBe(DisputeStatus.Open);
    expect(dispute.drawn).toBe(false);
    for (const nodeId of candidates) {
      const row = await rowEnded(cluster.nodeOf(nodeId), disputeId);
      expect(row.outcome).toBe("no_committee");
    }
  });
});

describe("a candidate with a key too new, and one not selected (issue 16)", () => {
  let cluster: ConsensusCluster;
  const late: { chainNode: DevNode; node: AtomaNode }[] = [];
  beforeAll(async () => {
    // A committee of one: q = 1/n, so most candidates are not selected.
    cluster = await startConsensusCluster({
      privateSelection: { window: 60, cap: 3 },
      dispute: { committeeSize: 1, minCommittee: 1 },
    });
  }, 240_000);
  afterAll(async () => {
    for (const { node } of late) await node.stop().catch(() => {});
    await cluster?.stop();
  }, 60_000);

  it("a key registered after the freeze ends the row `key_too_new`; an output over the threshold ends it `not_selected`; neither sends a proof", {
    timeout: 300_000,
  }, async () => {
    const { network, chainNodes } = cluster;
    const { admin } = network;
    const addresses = network.deployment.addresses;
    // Four more candidates of the disputed task, eligible before the dispute, whose nodes start (and register
    // their VRF keys) only once its candidates are frozen; and three whose keys are registered before the freeze
    // (no node runs for them). The threshold counts only keys older than the freeze: n = 3 + 3 = 6 of the 10
    // candidates, q = 1/6 (the late keys do not dilute it).
    const lateNodes: DevNode[] = [];
    for (let i = 0; i < 4; i++) {
      const chainNode = await network.addNode({ echelon: ECHELON });
      await network.subscribe(chainNode, cluster.cheatTask, { pricePerMillion: 2n * PRICE });
      lateNodes.push(chainNode);
    }
    const vrfWhere = { chainId: network.rpc.chainId, vrfKeyRegistry: addresses.VrfKeyRegistry! };
    for (let i = 0; i < 3; i++) {
      const keyed = await network.addNode({ echelon: ECHELON });
      await network.subscribe(keyed, cluster.cheatTask, { pricePerMillion: 2n * PRICE });
      const secretKey = await nodeVrfKey(keyed.signerAccount, vrfWhere);
      await registerVrfKey(keyed.signer, { nodeId: keyed.nodeId, secretKey });
    }
    await network.nextEpoch();
    const disputeId = await disputeOf(cluster, "Is 11 prime?");
    expect(await readDisputeCandidates(admin, disputeId)).toHaveLength(10);
    const window = await windowOf(cluster, disputeId);
    expect(window.numerator).toBe(1n);
    expect(window.denominator).toBe(6n);
    for (const [i, chainNode] of lateNodes.entries()) {
      const node = createNode(
        {
          account: chainNode.signerAccount,
          engine: cluster.engine,
          parts: [
            consensusPart({
              pollIntervalMs: 100,
              maxOutputTokens: CLUSTER_MAX_OUTPUT_TOKENS,
              turnGraceMs: 300,
            }),
          ],
        },
        cluster.configFor(`late-${i}`),
      );
      await node.start();
      late.push({ chainNode, node });
    }

    // The late nodes: a key newer than the freeze block. Each ends its row without recomputing or sending.
    for (const { chainNode, node } of late) {
      const row = await rowEnded(node, disputeId);
      expect(row.outcome).toBe("key_too_new");
      expect(await vrfKeyUsableForDispute(admin, { disputeId, nodeId: chainNode.nodeId })).toBe(false);
    }

    // What a late node did not send, the chain would refuse (while its window is open).
    const commitment: Hex = keccak256(stringToBytes("a sealed vote"));
    const [tooNew] = lateNodes;
    const tooNewProof = vrfProofArgs(await nodeVrfKey(tooNew!.signerAccount, vrfWhere), window.seed);
    const refusedLate = await selfSelectCommittee(tooNew!.signer, {
      disputeId,
      nodeId: tooNew!.nodeId,
      proof: tooNewProof,
      commitment,
    }).catch((error: unknown) => error);
    expect(revertName(refusedLate)).toBe("VrfKeyTooNew");

    // The earlier candidates (nodes 3–5): whoever's output is over the threshold ends its row `not_selected`. Every
    // one of them selected (the window's seed is a block hash: (1/6)³ ≈ 0.5 % of runs) leaves nobody to check here:
    // the check moves to a later dispute of the same kind (a fresh seed), so the test never rests on the draw's luck.
    const unselectedIn = async (id: bigint, opened: Awaited<ReturnType<typeof windowOf>>) => {
      const selection = { seed: opened.seed, numerator: opened.numerator, denominator: opened.denominator };
      const candidates = await readDisputeCandidates(admin, id);
      const out: DevNode[] = [];
      for (const chainNode of chainNodes.slice(2, 5)) {
        if (!candidates.includes(chainNode.nodeId)) continue;
        const key = await nodeVrfKey(chainNode.signerAccount, vrfWhere);
        if (!evaluateSelection(key, selection).selected) out.push(chainNode);
      }
      return out;
    };
    let checked = { disputeId, window };
    let unselected = await unselectedIn(disputeId, window);
    for (let i = 0; unselected.length === 0 && i < 8; i++) {
      const next = await disputeOf(cluster, `Is ${13 + 2 * i} prime? (retry)`);
      checked = { disputeId: next, window: await windowOf(cluster, next) };
      unselected = await unselectedIn(next, checked.window);
    }
    expect(unselected.length).toBeGreaterThan(0);
    for (const chainNode of unselected) {
      const row = await rowEnded(cluster.nodeOf(chainNode.nodeId), checked.disputeId);
      expect(row.outcome).toBe("not_selected");
    }
    const seated = await seatedIds(cluster, checked.disputeId);
    for (const chainNode of unselected) expect(seated).not.toContain(chainNode.nodeId);
    const seatedFirst = await seatedIds(cluster, disputeId);
    for (const chainNode of lateNodes) expect(seatedFirst).not.toContain(chainNode.nodeId);

    // What the unselected node did not send, the chain would refuse: its own proof.
    const [loser] = unselected;
    const loserProof = vrfProofArgs(await nodeVrfKey(loser!.signerAccount, vrfWhere), checked.window.seed);
    const refused = await selfSelectCommittee(loser!.signer, {
      disputeId: checked.disputeId,
      nodeId: loser!.nodeId,
      proof: loserProof,
      commitment,
    }).catch((error: unknown) => error);
    expect(revertName(refused)).toBe("NotSelected");
  });
});
