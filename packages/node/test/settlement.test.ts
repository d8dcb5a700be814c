import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import {
  attestationResult,
  buyStack,
  type ChainContext,
  challengeLeafIndex,
  challengeSettlement,
  closeStack,
  commitAttestation,
  commitDisputeVote,
  DisputeOutcome,
  declareTranscriptUnavailable,
  devParameters,
  finalizeSettlement,
  openAttestation,
  randomSalt,
  registerNode,
  requestStack,
  revealDisputeVote,
  StackStatus,
  settlementBallotOf,
  showDisputeVote,
  timeoutSettlement,
} from "@atoma/chain";
import {
  atomaDomain,
  costOfUnits,
  decodeTranscript,
  type Hash,
  type RecomputedSample,
  StackTree,
  signResponse,
  verifyTranscript,
} from "@atoma/core";
import pg from "pg";
import { keccak256, type LocalAccount, parseEther, parseEventLogs, stringToBytes, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRICE,
  SecurityLevel,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "../../chain/test/network.js";
import { listLeaves } from "../src/accounting/stacks.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import type { AtomaNode } from "../src/service/createNode.js";
import {
  honestOutput,
  type NodeDatabaseChoice,
  recordStack,
  serveRequests,
  settlementNode,
  stateDatabaseOf,
  TIP_CAP,
  waitFor,
} from "./helpers/settlementNetwork.js";
import { databaseUrl } from "./helpers/stateDatabases.js";

/** The test network's nodes, one role each (see the tasks in `beforeAll`). */
type TenNodes = [
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
  TestNode,
];

const HOUR = 3_600;
const CHALLENGE_WINDOW = 600;
const STACK_CLOSED = 3;
const PHASE_FINALIZED = 5;

const databases = [
  { name: "embedded", url: undefined },
  { name: "postgres", url: databaseUrl },
] as const;

describe.each(databases)("the settlement worker on anvil ($name database)", ({ name, url }) => {
  if (name === "postgres" && url === undefined) {
    it.skip("needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)", () => {});
    return;
  }
  /** On PostgreSQL only the paths that exercise the database differently run again (the suite is slow). */
  const itEmbedded = name === "postgres" ? it.skip : it;
  const schemas: string[] = [];
  /** Each node's database: a fresh schema per node on PostgreSQL, the data directory's otherwise. */
  const databaseFor = (nodeId: bigint): NodeDatabaseChoice => {
    if (url === undefined) return { kind: "embedded" };
    const schema = `atoma_settle_${process.pid}_${randomBytes(3).toString("hex")}_${nodeId}`;
    schemas.push(schema);
    return { kind: "postgres", url, schema };
  };
  let network: TestNetwork;
  let nodes: TestNode[];
  let user: { account: LocalAccount; ctx: ChainContext };
  /** One task per test, so which node serves a stack is known and fee claims do not mix. */
  let plainTask: bigint;
  let verifiedTask: bigint;
  let rareTask: bigint;
  let restartTask: bigint;
  let challengedTask: bigint;
  let batchTask: bigint;
  let lateTask: bigint;
  let disputedTask: bigint;
  let bondsTask: bigint;
  const running = new Map<bigint, { node: AtomaNode; dataDir: string; database: NodeDatabaseChoice }>();
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  /**
   * The attesters (test signers, not workers) commit to their samples with fresh salts; once the serving node has
   * revealed, each opens its commitment.
   */
  async function attestAndOpen(stackId: bigint, samples: readonly [bigint, RecomputedSample][]) {
    const salts = samples.map(() => randomSalt());
    for (const [i, [id, sample]] of samples.entries())
      await commitAttestation(byId(id).signer, { stackId, nodeId: id, sample, salt: salts[i]! });
    // ISettlementManager.Phase.Opening: the serving node has revealed.
    await waitFor("the reveal", async () => ((await settlementOf(stackId)).phase === 9 ? true : undefined));
    for (const [i, [id, sample]] of samples.entries())
      await openAttestation(byId(id).signer, {
        stackId,
        nodeId: id,
        result: attestationResult(sample),
        salt: salts[i]!,
      });
  }

  beforeAll(async () => {
    network = await startNetwork({ task: { minReplicationPpm: 1 } });
    nodes = [];
    for (let i = 0; i < 10; i++) nodes.push(await network.addNode());
    // A verified task needs its attesters plus a committee among the others of the echelon (item 4): b, c, d, i.
    const [a, b, c, d, e, f, g, h, i, j] = nodes as TenNodes;
    plainTask = await taskWith(network, [a], { securityLevel: SecurityLevel.None });
    verifiedTask = await taskWith(network, [b, c, d, i], {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 2,
    });
    rareTask = await taskWith(network, [b, c, d, i], {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1,
      attesters: 2,
      sampleSize: 2,
    });
    restartTask = await taskWith(network, [e], { securityLevel: SecurityLevel.None });
    challengedTask = await taskWith(network, [f], { securityLevel: SecurityLevel.None });
    batchTask = await taskWith(network, [g], { securityLevel: SecurityLevel.None });
    lateTask = await taskWith(network, [h], { securityLevel: SecurityLevel.None });
    bondsTask = await taskWith(network, [j], { securityLevel: SecurityLevel.None });
    // Six subscribers: a server, its two attesters and a committee of three.
    disputedTask = await taskWith(network, [a, b, c, d, e, f], {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 2,
    });
    user = await network.account();
    await network.advance(HOUR);
  }, 180_000);

  afterAll(async () => {
    for (const { node, dataDir } of running.values()) {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (url !== undefined && schemas.length > 0) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
    await network?.stop();
  });

  /** The settlement node of `server`, started on first use. */
  async function nodeOf(server: TestNode): Promise<AtomaNode> {
    let entry = running.get(server.nodeId);
    if (!entry) {
      const database = databaseFor(server.nodeId);
      entry = { ...settlementNode(network, server, { database }), database };
      await entry.node.start();
      running.set(server.nodeId, entry);
    }
    return entry.node;
  }

  async function buy(taskId: bigint, units: bigint, duration = 86_400n) {
    const stack = await buyStack(user.ctx, { taskId, units, maxPricePerMillion: PRICE, duration });
    const node = await nodeOf(byId(stack.nodeId));
    await recordStack(node, stack, { owner: user.account, taskId, units });
    return { stack, node };
  }

  const rowOf = (node: AtomaNode, stackId: bigint) =>
    node.context.db.selectFrom("settlements").selectAll().where("stack_id", "=", stackId).executeTakeFirst();

  /** Buys `units` of `taskId`, serves 3 requests on the stack, closes it and waits for its settlement's acceptance. */
  async function servedClosedAndAccepted(taskId: bigint, units: bigint) {
    const { stack, node } = await buy(taskId, units);
    await serveRequests(network, node, stack, user.account, 3);
    await closeStack(user.ctx, { stackId: stack.stackId });
    await waitFor(
      "the settlement to be accepted",
      async () => (await rowOf(node, stack.stackId))?.outcome === "accepted",
    );
    return { stack, node };
  }

  /** The TOMA balance of `server`'s operator, where its fees and held bonds are paid. */
  const operatorBalanceOf = (server: TestNode) =>
    network.deployment.contracts.token.read.balanceOf([server.operator.walletClient.account.address]);

  /** Waits until `node` marks the bonds held for `stackId` collected; then the chain's `HeldBondsPaid` [to, amount]s. */
  async function heldBondsPaidOnceCollected(node: AtomaNode, stackId: bigint) {
    await waitFor("the held bonds marked collected", async () => {
      const row = await rowOf(node, stackId);
      return row?.held_bonds_done ? row : undefined;
    });
    const paidOut = await network.deployment.contracts.challengeManager.getEvents.HeldBondsPaid(
      { stackId },
      { fromBlock: 0n },
    );
    return paidOut.map(({ args }) => [args.to, args.amount]);
  }

  /**
   * Waits until `node` has answered challenge `challengeId`: dismissed, and its answer's transaction recorded (the
   * listener may record the dismissal before the worker records its answer's transaction).
   */
  const challengeAnswered = (what: string, node: AtomaNode, challengeId: bigint) =>
    waitFor(what, async () => {
      const row = await node.context.db
        .selectFrom("settlement_challenges")
        .selectAll()
        .where("dispute_id", "=", challengeId)
        .executeTakeFirst();
      return row?.state === "dismissed" && row.answer_tx !== null ? row : undefined;
    });

  const settlementOf = (stackId: bigint) =>
    network.deployment.contracts.settlementManager.read.getSettlement([stackId]);

  async function finalizedEvent(stackId: bigint) {
    const [event] = await network.deployment.contracts.settlementManager.getEvents.SettlementFinalized(
      { stackId },
      { fromBlock: 0n },
    );
    return event?.args;
  }

  const leafRoot = (served: { leafHashes: Hash[] }) => new StackTree(served.leafHashes).root;

  it("settles a stack its owner closes, serves its transcript, finalizes, and claims the fee after the epoch", async () => {
    const { contracts } = network.deployment;
    const { stack, node } = await buy(plainTask, 1_000n);
    const served = await serveRequests(network, node, stack, user.account, 4);
    await closeStack(user.ctx, { stackId: stack.stackId });

    const submitted = await waitFor("the settlement to be accepted", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.outcome === "accepted" && row.settle_tx !== null ? row : undefined;
    });
    const onChain = await settlementOf(stack.stackId);
    expect(onChain).toMatchObject({ root: leafRoot(served), units: 400n, requestCount: 4 });
    const settleTx = await user.ctx.publicClient.getTransaction({ hash: submitted.settle_tx as Hash });
    expect(settleTx.maxPriorityFeePerGas).toBe(TIP_CAP);
    const blob = await fetch(`${node.url}/v1/blobs/${submitted.transcript_blob_id}`);
    expect(blob.status).toBe(200);
    const transcript = decodeTranscript(new Uint8Array(await blob.arrayBuffer()));
    const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
    const audited = await verifyTranscript(transcript, {
      owner: user.account.address,
      stackId: stack.stackId,
      domain,
      root: onChain.root,
      units: onChain.units,
      requestCount: BigInt(onChain.requestCount),
    });
    expect(audited.reqHashes).toEqual(served.reqHashes);

    const refundBefore = await contracts.vault.read.balanceOf([user.account.address]);
    await network.advance(CHALLENGE_WINDOW + 1);
    const finalized = await waitFor("the payout", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.state === "settled" ? row : undefined;
    });
    const cost = costOfUnits(400n, PRICE);
    const nodeFee = cost - (cost * 500n) / 10_000n;
    expect(finalized.node_amount).toBe(nodeFee);
    expect(finalized.refunded).toBe(stack.escrow - cost);
    expect((await contracts.vault.read.balanceOf([user.account.address])) - refundBefore).toBe(
      stack.escrow - cost,
    );
    expect((await contracts.stackManager.read.getStack([stack.stackId])).status).toBe(STACK_CLOSED);
    expect((await settlementOf(stack.stackId)).phase).toBe(PHASE_FINALIZED);
    expect(await contracts.vault.read.escrowOf([toHex(stack.stackId, { size: 32 })])).toBe(0n);
    const local = await node.context.db
      .selectFrom("stacks")
      .select("state")
      .where("stack_id", "=", stack.stackId)
      .executeTakeFirstOrThrow();
    expect(local.state).toBe("settled");

    const server = byId(stack.nodeId);
    const operator = server.operator.walletClient.account.address;
    const before = await contracts.token.read.balanceOf([operator]);
    await network.advance(HOUR);
    const claimed = await waitFor("the fee claim", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.state === "claimed" ? row : undefined;
    });
    expect(claimed.claim_tx).toMatch(/^0x[0-9a-f]{64}$/);
    // What the operator receives is the fee less its burn (devParameters: 5 %).
    const burned = (nodeFee * BigInt(devParameters.vault.feeBurnBps)) / 10_000n;
    expect((await contracts.token.read.balanceOf([operator])) - before).toBe(nodeFee - burned);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toContain('atoma_node_settlements_total{outcome="submitted"} 1');
    expect(metrics).toContain('atoma_node_settlements_total{outcome="claimed"} 1');
  });

  it("settles a used-up stack on its own, reveals the sampled responses with proofs, and pays the attesters", async () => {
    const { contracts } = network.deployment;
    const { stack, node } = await buy(verifiedTask, 500n);
    const served = await serveRequests(network, node, stack, user.account, 5);
    const sampled = await waitFor("attesters to be sampled", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.state === "attesting" ? row : undefined;
    });
    const indices = (sampled.sampled_indices as string[]).map(Number);
    expect(indices).toHaveLength(2);
    const attesters = (await contracts.settlementManager.read.attestersOf([stack.stackId])).map(
      (a) => a.nodeId,
    );
    expect(attesters).toHaveLength(2);
    const sample = {
      respHashes: indices.map((k) => served.respHashes[k]!),
      units: indices.map((k) => served.units[k]!),
    };
    await attestAndOpen(
      stack.stackId,
      attesters.map((id) => [id, sample]),
    );
    const revealed = await waitFor("the reveal", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.reveal_tx && row.outcome === "accepted" ? row : undefined;
    });
    expect(revealed.reveal_deadline).not.toBeNull();
    await network.advance(CHALLENGE_WINDOW + 1);
    await waitFor("the payout", async () => (await rowOf(node, stack.stackId))?.state === "settled");
    const cost = costOfUnits(500n, PRICE);
    const payout = await finalizedEvent(stack.stackId);
    expect(payout).toMatchObject({
      nodeAmount: cost - (cost * 500n) / 10_000n,
      attesterAmountEach: (stack.escrow - cost) / 2n,
      refunded: 0n,
    });
    expect(await contracts.vault.read.escrowOf([toHex(stack.stackId, { size: 32 })])).toBe(0n);
    await network.advance(HOUR);
    await waitFor("the fee claim", async () => (await rowOf(node, stack.stackId))?.state === "claimed");
  });

  itEmbedded(
    "posts the sampled requests as calldata when an attester cannot fetch the transcript, then reveals",
    async () => {
      const { contracts } = network.deployment;
      const { stack, node } = await buy(verifiedTask, 1_000n);
      const served = await serveRequests(network, node, stack, user.account, 4);
      await closeStack(user.ctx, { stackId: stack.stackId });
      const sampled = await waitFor("attesters to be sampled", async () => {
        const row = await rowOf(node, stack.stackId);
        return row?.state === "attesting" ? row : undefined;
      });
      const indices = (sampled.sampled_indices as string[]).map(Number);
      const attesters = (await contracts.settlementManager.read.attestersOf([stack.stackId])).map(
        (a) => a.nodeId,
      );
      await declareTranscriptUnavailable(byId(attesters[0]!).signer, {
        stackId: stack.stackId,
        nodeId: attesters[0]!,
      });
      const dataTx = await waitFor("the sampled requests on chain", async () => {
        return (await rowOf(node, stack.stackId))?.data_tx ?? undefined;
      });
      const receipt = await user.ctx.publicClient.getTransactionReceipt({ hash: dataTx as Hash });
      const [complete] = parseEventLogs({
        abi: contracts.settlementManager.abi,
        logs: receipt.logs,
        eventName: "SampledRequestsPosted",
      });
      expect(complete).toBeDefined();
      for (const [position, k] of indices.entries())
        expect(await contracts.settlementEvidence.read.postedRequest([stack.stackId, BigInt(position)])).toBe(
          served.reqHashes[k]!,
        );
      const sample = {
        respHashes: indices.map((k) => served.respHashes[k]!),
        units: indices.map((k) => served.units[k]!),
      };
      await attestAndOpen(
        stack.stackId,
        attesters.map((id) => [id, sample]),
      );
      await waitFor("the reveal", async () => (await rowOf(node, stack.stackId))?.outcome === "accepted");
      await network.advance(CHALLENGE_WINDOW + 1);
      await waitFor("the payout", async () => (await rowOf(node, stack.stackId))?.state === "settled");
      expect((await finalizedEvent(stack.stackId))?.refunded).toBe(costOfUnits(600n, PRICE));
    },
  );

  itEmbedded(
    "skips verification when the task's replication rate does not sample, refunding the surcharge",
    async () => {
      const { stack, node } = await buy(rareTask, 1_000n);
      await serveRequests(network, node, stack, user.account, 3);
      await closeStack(user.ctx, { stackId: stack.stackId });
      const accepted = await waitFor("the settlement to be accepted", async () => {
        const row = await rowOf(node, stack.stackId);
        return row?.outcome === "accepted" ? row : undefined;
      });
      expect(accepted.sampled_indices).toBeNull();
      await network.advance(CHALLENGE_WINDOW + 1);
      await waitFor("the payout", async () => (await rowOf(node, stack.stackId))?.state === "settled");
      expect((await finalizedEvent(stack.stackId))?.refunded).toBe(stack.escrow - costOfUnits(300n, PRICE));
    },
  );

  itEmbedded(
    "draws the node of a stack its buyer left undrawn, so the buyer cannot wait for another draw (item 10)",
    async () => {
      const [a] = nodes as TenNodes;
      await nodeOf(a);
      const request = await requestStack(user.ctx, {
        taskId: plainTask,
        units: 1_000n,
        maxPricePerMillion: PRICE,
        duration: 86_400n,
      });
      const { stackManager } = network.deployment.contracts;
      expect((await stackManager.read.getStack([request.stackId])).status).toBe(StackStatus.Pending);
      // Blocks go by (anvil mines one per call); the candidate node draws once its grace has passed.
      const drawn = await waitFor("the candidate's draw", async () => {
        const stack = await stackManager.read.getStack([request.stackId]);
        if (stack.status === StackStatus.Active) return stack;
        await network.advance(1);
        return undefined;
      });
      expect(drawn.nodeId).toBe(a.nodeId);
      const [event] = await stackManager.getEvents.StackBought(
        { stackId: request.stackId },
        { fromBlock: 0n },
      );
      const drawTx = await user.ctx.publicClient.getTransaction({ hash: event!.transactionHash });
      expect(drawTx.from.toLowerCase()).toBe(a.signerAccount.address.toLowerCase());
    },
  );

  itEmbedded(
    "settles a stack that serves nothing for settlement.idleSeconds long before it expires, freeing the capacity it held (item 16)",
    async () => {
      const { contracts } = network.deployment;
      const [a] = nodes as TenNodes;
      const reserved = async () =>
        (await contracts.taskRegistry.read.getSubscription([plainTask, a.nodeId])).reserved;
      const before = await reserved();
      const { stack, node } = await buy(plainTask, 1_000n, 86_400n);
      expect(await reserved()).toBe(before + 1_000n);
      // The worker's idle clock starts when it first sees the stack: move chain time on until it settles.
      const settled = await waitFor("the idle settlement", async () => {
        const row = await rowOf(node, stack.stackId);
        if (row?.settle_tx) return row;
        await network.advance(600);
        return undefined;
      });
      expect(settled.leaf_count).toBe(0n);
      expect(await network.now()).toBeLessThan(stack.expiresAt - 300n);
      expect(await reserved()).toBe(before);
    },
  );

  itEmbedded(
    "settles an unused stack before it expires: the owner gets everything back but the minimum charge, the node keeps its collateral",
    async () => {
      const { contracts } = network.deployment;
      const { stack, node } = await buy(plainTask, 1_000n, BigInt(HOUR));
      const server = byId(stack.nodeId);
      const collateral = (await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral;
      await network.advance(HOUR - 200);
      const accepted = await waitFor("the empty settlement", async () => {
        const row = await rowOf(node, stack.stackId);
        return row?.outcome === "accepted" ? row : undefined;
      });
      expect(accepted.leaf_count).toBe(0n);
      await network.advance(CHALLENGE_WINDOW + 1);
      const done = await waitFor("the refund", async () => {
        const row = await rowOf(node, stack.stackId);
        return row?.outcome === "finalized" && row.state === "claimed" ? row : undefined;
      });
      expect(done.state).toBe("claimed");
      // The minimum charge (10 % of the price at the dev parameters) goes to the treasury, never to the node.
      expect(done.refunded).toBe(stack.escrow - stack.escrow / 10n);
      expect(done.node_amount).toBe(0n);
      expect((await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral).toBe(collateral);
    },
  );

  it("resumes after a restart mid-settlement without submitting twice", async () => {
    const { contracts } = network.deployment;
    const { stack, node } = await buy(restartTask, 1_000n);
    const served = await serveRequests(network, node, stack, user.account, 3);
    await closeStack(user.ctx, { stackId: stack.stackId });
    await waitFor("the submission", async () => (await rowOf(node, stack.stackId))?.settle_tx);
    const { dataDir, database } = running.get(stack.nodeId)!;
    await node.stop();
    running.delete(stack.nodeId);
    // As if the process had died after the settle transaction was mined but before the row recorded it.
    const state = await openStateDatabase(stateDatabaseOf(database, dataDir));
    await state.db
      .updateTable("settlements")
      .set({ state: "pending", settle_tx: null })
      .where("stack_id", "=", stack.stackId)
      .execute();
    await state.close();
    await network.advance(CHALLENGE_WINDOW + 1);
    const reopened = { ...settlementNode(network, byId(stack.nodeId), { dataDir, database }), database };
    await reopened.node.start();
    running.set(stack.nodeId, reopened);
    await waitFor("the payout", async () => (await rowOf(reopened.node, stack.stackId))?.state === "settled");
    await network.advance(HOUR);
    await waitFor("the claim", async () => (await rowOf(reopened.node, stack.stackId))?.state === "claimed");
    const submissions = await contracts.settlementManager.getEvents.SettlementSubmitted(
      { stackId: stack.stackId },
      { fromBlock: 0n },
    );
    expect(submissions).toHaveLength(1);
    expect(submissions[0]?.args.root).toBe(leafRoot(served));
    const payouts = await contracts.settlementManager.getEvents.SettlementFinalized(
      { stackId: stack.stackId },
      { fromBlock: 0n },
    );
    expect(payouts).toHaveLength(1);
  });

  it("answers an owner's challenge of an honest settlement with the leaf's proof, keeping its collateral", async () => {
    const { contracts } = network.deployment;
    const { stack, node } = await servedClosedAndAccepted(challengedTask, 1_000n);
    const server = byId(stack.nodeId);
    const collateral = (await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral;
    const [leaf] = await listLeaves(node.context.db, stack.stackId, { from: 1n, limit: 1 });
    const fields = {
      stackId: leaf!.stackId,
      leafIndex: leaf!.leafIndex,
      nonce: leaf!.nonce,
      reqHash: leaf!.reqHash,
      respHash: leaf!.respHash,
      units: leaf!.units,
      cumulativeUnits: leaf!.cumulativeUnits,
      seed: leaf!.seed,
    };
    const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
    const signature = await signResponse(server.signerAccount, domain, fields);
    const challenged = await challengeSettlement(user.ctx, {
      stackId: stack.stackId,
      response: fields,
      signature,
    });
    expect(challenged.upheld).toBe(false);
    expect(challenged.bond).toBeGreaterThan(0n);
    const operatorBalance = () => operatorBalanceOf(server);
    const before = await operatorBalance();
    const answered = await challengeAnswered("the answer", node, challenged.challengeId);
    expect(answered.answer_tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral).toBe(collateral);
    // The false challenge's bond pays for the answer, held until the window is over (review challenges LOW-1:
    // more challenges may still open); the proven leaf cannot be challenged again.
    expect((await operatorBalance()) - before).toBe(0n);
    await expect(
      challengeSettlement(user.ctx, { stackId: stack.stackId, response: fields, signature }),
    ).rejects.toMatchObject({ errorName: "LeafAlreadyProven" });
    // Index challenges (leaves the owner says it never signed), two open at once (review fresh HIGH-1): the node
    // answers each with the owner-signed request it kept in the leaf's transcript entry.
    const indexed = await challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 2n });
    const beside = await challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 0n });
    for (const { challengeId } of [indexed, beside]) {
      const indexAnswer = await challengeAnswered("the index challenge's answer", node, challengeId);
      expect(indexAnswer.answer_tx).toMatch(/^0x[0-9a-f]{64}$/);
    }
    expect((await operatorBalance()) - before).toBe(0n);
    await network.advance(CHALLENGE_WINDOW + 1);
    await waitFor("the payout", async () => (await rowOf(node, stack.stackId))?.state === "settled");
    // The bonds wait for the fraud window, the exit notice after the window (review R2-5), then the node collects
    // the bonds held for its answers. That time travel also ends the epoch, so the node claims its fee in the same
    // wait: the operator's balance grows by the bonds and the fee, told apart by the chain's `HeldBondsPaid`.
    expect((await operatorBalance()) - before).toBe(0n);
    await network.advance(Number(await contracts.taskRegistry.read.exitNotice()) + 1);
    const bonds = challenged.bond + indexed.bond + beside.bond;
    expect(await heldBondsPaidOnceCollected(node, stack.stackId)).toEqual([
      [server.operator.walletClient.account.address, bonds],
    ]);
    expect(await contracts.challengeManager.read.heldBondOf([stack.stackId])).toBe(0n);
    expect((await operatorBalance()) - before).toBeGreaterThanOrEqual(bonds);
  });

  // Review rev4 R4-6 (14a6477): an index answer late in the window reveals a leaf that stays challengeable for
  // answerWindow past the window's end, and the settlement is held Disputed until `payHeld` releases it. An honest
  // node must not depend on the owner's gateway for that: its own scan releases the settlement once the check is
  // over, finalizes it and, after the exit notice, collects the bond.
  itEmbedded(
    "releases a settlement held for the check of a late index answer's leaf itself, and is paid",
    async () => {
      const { contracts } = network.deployment;
      const { stack, node } = await servedClosedAndAccepted(bondsTask, 1_000n);
      const server = byId(stack.nodeId);
      const operatorBalance = () => operatorBalanceOf(server);
      const before = await operatorBalance();
      await network.advance(CHALLENGE_WINDOW - 100);
      const indexed = await challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 1n });
      await challengeAnswered("the index challenge's answer", node, indexed.challengeId);
      const { windowEnds } = await contracts.settlementManager.read.getSettlement([stack.stackId]);
      const checkUntil = await contracts.challengeManager.read.checkUntil([stack.stackId]);
      expect(checkUntil).toBeGreaterThan(windowEnds);
      expect(await contracts.challengeManager.read.heldOpen([stack.stackId])).toBe(true);
      // Past the window, within the check: still held, nothing finalized or paid.
      await network.advance(101);
      expect(await contracts.challengeManager.read.heldOpen([stack.stackId])).toBe(true);
      expect((await rowOf(node, stack.stackId))?.state).not.toBe("settled");
      // Past the check: nobody but the node acts from here on.
      const now = (await user.ctx.publicClient.getBlock()).timestamp;
      await network.advance(Number(BigInt(checkUntil) - now) + 1);
      await waitFor("the payout", async () =>
        ["settled", "claimed"].includes((await rowOf(node, stack.stackId))?.state ?? ""),
      );
      expect(await contracts.challengeManager.read.heldOpen([stack.stackId])).toBe(false);
      await network.advance(Number(await contracts.taskRegistry.read.exitNotice()) + 1);
      expect(await heldBondsPaidOnceCollected(node, stack.stackId)).toEqual([
        [server.operator.walletClient.account.address, indexed.bond],
      ]);
      expect((await operatorBalance()) - before).toBeGreaterThanOrEqual(indexed.bond);
    },
  );

  // Review rev W-1: the node collected its held bonds only after its own finalize transaction. The owner's gateway
  // finalizes every due settlement each pass (and anyone may): when it won the race, or the node was down as the
  // window closed, the bonds of the node's answers stayed in the ChallengeManager for good.
  itEmbedded(
    "collects the bonds held for its answers when the owner finalized the settlement first",
    async () => {
      const { contracts } = network.deployment;
      const { stack, node } = await servedClosedAndAccepted(bondsTask, 1_000n);
      const server = byId(stack.nodeId);
      const operatorBalance = () => operatorBalanceOf(server);
      const before = await operatorBalance();
      const indexed = await challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 1n });
      await challengeAnswered("the index challenge's answer", node, indexed.challengeId);
      // The node is down as the window closes; the owner pays the settlement out meanwhile.
      const { dataDir, database } = running.get(stack.nodeId)!;
      await node.stop();
      running.delete(stack.nodeId);
      await network.advance(CHALLENGE_WINDOW + 1);
      await finalizeSettlement(user.ctx, { stackIds: [stack.stackId] });
      expect((await operatorBalance()) - before).toBe(0n);
      const restarted = { ...settlementNode(network, server, { dataDir, database }), database };
      await restarted.node.start();
      running.set(stack.nodeId, restarted);
      // Due once the fraud window (the exit notice after the window) is over (review R2-5).
      await network.advance(Number(await contracts.taskRegistry.read.exitNotice()) + 1);
      await waitFor("the held bonds", async () => (await operatorBalance()) - before === indexed.bond);
      expect(indexed.bond).toBeGreaterThan(0n);
      const row = await waitFor("the bonds marked collected", async () => {
        const found = await rowOf(restarted.node, stack.stackId);
        return found?.held_bonds_done ? found : undefined;
      });
      expect(row.finalize_tx).toBeNull();
      expect(row.outcome).toBe("finalized");
    },
  );

  it("posts the disputed requests when a lying attester disputes its settlement, and is paid once the committee rules", async () => {
    const { contracts } = network.deployment;
    const { stack, node } = await buy(disputedTask, 500n);
    const server = byId(stack.nodeId);
    const collateral = (await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral;
    const served = await serveRequests(network, node, stack, user.account, 5);
    const sampled = await waitFor("attesters to be sampled", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.state === "attesting" ? row : undefined;
    });
    const indices = (sampled.sampled_indices as string[]).map(Number);
    const [honestAttester, liar] = (await contracts.settlementManager.read.attestersOf([stack.stackId])).map(
      (a) => a.nodeId,
    ) as [bigint, bigint];
    const truth = indices.map((k) => served.respHashes[k]!);
    await attestAndOpen(stack.stackId, [
      [honestAttester, { respHashes: truth, units: indices.map((k) => served.units[k]!) }],
      [
        liar,
        {
          respHashes: truth.map(() => keccak256(stringToBytes("a lie"))),
          units: indices.map((k) => served.units[k]!),
        },
      ],
    ]);
    // The node reveals, sees the dispute, posts the disputed requests and draws the committee itself.
    const disputed = await waitFor("the evidence", async () => {
      const row = await rowOf(node, stack.stackId);
      return row?.evidence_tx && row.dispute_id !== null ? row : undefined;
    });
    const disputeId = disputed.dispute_id!;
    const committee = await waitFor("the committee", async () => {
      const members = await contracts.disputeManager.read.committeeOf([disputeId]);
      return members.length > 0 ? members.map((m) => m.nodeId) : undefined;
    });
    const outputs = indices.map((k) => honestOutput(served.reqHashes[k]!));
    for (const id of committee) {
      const ballot = settlementBallotOf(id, outputs);
      const vote = {
        disputeId,
        nodeId: id,
        claim: ballot.claim,
        work: ballot.work,
        salt: keccak256(toHex(id)),
      };
      await commitDisputeVote(byId(id).signer, vote);
    }
    for (const id of committee) {
      const ballot = settlementBallotOf(id, outputs);
      const vote = {
        disputeId,
        nodeId: id,
        claim: ballot.claim,
        work: ballot.work,
        salt: keccak256(toHex(id)),
      };
      await revealDisputeVote(byId(id).signer, vote);
      await showDisputeVote(byId(id).signer, { disputeId, nodeId: id, ballot });
    }
    await waitFor("the node to resolve the dispute", async () => {
      const dispute = await contracts.disputeManager.read.getDispute([disputeId]);
      return dispute.status === 2 ? dispute : undefined;
    });
    const dispute = await contracts.disputeManager.read.getDispute([disputeId]);
    expect(dispute).toMatchObject({
      outcome: DisputeOutcome.Decided,
      winner: settlementBallotOf(0n, outputs).claim,
    });
    expect((await contracts.nodeRegistry.read.getNode([liar])).collateral).toBe(0n);
    expect((await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral).toBe(collateral);
    await waitFor(
      "the settlement to stand",
      async () => (await rowOf(node, stack.stackId))?.outcome === "accepted",
    );
    await network.advance(CHALLENGE_WINDOW + 1);
    await waitFor("the payout", async () => (await rowOf(node, stack.stackId))?.state === "settled");
    const cost = costOfUnits(500n, PRICE);
    expect((await finalizedEvent(stack.stackId))?.nodeAmount).toBe(cost - (cost * 500n) / 10_000n);
  });

  itEmbedded("settles and finalizes stacks that come due together in one transaction each", async () => {
    const bought = [await buy(batchTask, 1_000n, BigInt(HOUR)), await buy(batchTask, 1_000n, BigInt(HOUR))];
    for (const [i, { stack, node }] of bought.entries())
      await serveRequests(network, node, stack, user.account, i + 2);
    const { node } = bought[0]!;
    const ids = bought.map(({ stack }) => stack.stackId);
    await network.advance(HOUR - 200);
    const accepted = await waitFor("both settlements to be accepted", async () => {
      const rows = await Promise.all(ids.map((id) => rowOf(node, id)));
      return rows.every((row) => row?.outcome === "accepted") ? rows.map((row) => row!) : undefined;
    });
    expect(accepted[0]!.settle_tx).toBe(accepted[1]!.settle_tx);
    const receipt = await user.ctx.publicClient.getTransactionReceipt({
      hash: accepted[0]!.settle_tx as Hash,
    });
    const submitted = parseEventLogs({
      abi: network.deployment.contracts.settlementManager.abi,
      logs: receipt.logs,
      eventName: "SettlementSubmitted",
    });
    expect(submitted.map((event) => event.args.units)).toEqual([200n, 300n]);
    await network.advance(CHALLENGE_WINDOW + 1);
    const paid = await waitFor("both payouts", async () => {
      const rows = await Promise.all(ids.map((id) => rowOf(node, id)));
      return rows.every((row) => row?.state === "settled") ? rows.map((row) => row!) : undefined;
    });
    expect(paid[0]!.finalize_tx).toBe(paid[1]!.finalize_tx);
    expect(paid.map((row) => row.refunded)).toEqual(
      bought.map(({ stack }, i) => stack.escrow - costOfUnits(BigInt(100 * (i + 2)), PRICE)),
    );
  });

  itEmbedded(
    "records a stack it could not settle in time, and the owner's refund, without retrying",
    async () => {
      const { contracts } = network.deployment;
      const { stack, node } = await buy(lateTask, 1_000n, BigInt(HOUR));
      await serveRequests(network, node, stack, user.account, 2);
      const { dataDir, database } = running.get(stack.nodeId)!;
      await node.stop();
      running.delete(stack.nodeId);
      await network.advance(HOUR + CHALLENGE_WINDOW + 1);
      const late = { ...settlementNode(network, byId(stack.nodeId), { dataDir, database }), database };
      await late.node.start();
      running.set(stack.nodeId, late);
      const failed = await waitFor("the late settlement to be given up", async () => {
        const row = await rowOf(late.node, stack.stackId);
        return row?.state === "failed" ? row : undefined;
      });
      expect(failed.outcome).toBe("too_late");
      const refunded = await timeoutSettlement(user.ctx, { stackId: stack.stackId });
      expect(refunded.refunded).toBe(stack.escrow);
      await waitFor(
        "the timeout to be recorded",
        async () => (await rowOf(late.node, stack.stackId))?.outcome === "timed_out",
      );
      const local = await late.node.context.db
        .selectFrom("stacks")
        .select("state")
        .where("stack_id", "=", stack.stackId)
        .executeTakeFirstOrThrow();
      expect(local.state).toBe("settled");
      const submissions = await contracts.settlementManager.getEvents.SettlementSubmitted(
        { stackId: stack.stackId },
        { fromBlock: 0n },
      );
      expect(submissions).toHaveLength(0);
    },
  );

  itEmbedded("starts before its key is registered, and settles once it is", async () => {
    const operator = await network.account();
    const signer = await network.account(0n);
    const unregistered: TestNode = {
      nodeId: 0n,
      operator: operator.ctx,
      signer: signer.ctx,
      signerAccount: signer.account,
    };
    const early = settlementNode(network, unregistered);
    await early.node.start();
    running.set(0n, { ...early, database: { kind: "embedded" } });
    const { nodeId } = await registerNode(operator.ctx, {
      signer: signer.account,
      url: "http://127.0.0.1:8080",
      echelon: 1,
      collateral: parseEther("1000"),
    });
    const taskId = await taskWith(network, [{ ...unregistered, nodeId }], {
      securityLevel: SecurityLevel.None,
    });
    await network.advance(HOUR);
    const stack = await buyStack(user.ctx, {
      taskId,
      units: 1_000n,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
    });
    expect(stack.nodeId).toBe(nodeId);
    await recordStack(early.node, stack, { owner: user.account, taskId, units: 1_000n });
    await serveRequests(network, early.node, stack, user.account, 2);
    await closeStack(user.ctx, { stackId: stack.stackId });
    await waitFor(
      "the settlement",
      async () => (await rowOf(early.node, stack.stackId))?.outcome === "accepted",
    );
  });
});
