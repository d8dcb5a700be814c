import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buyStack, closeStack, devParameters } from "@atoma/chain";
import { costOfUnits } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { NodeRequestError, StackClient, type Verified } from "@atoma/sdk";
import { type LocalAccount, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRICE,
  SecurityLevel,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "../../chain/test/network.js";
import { dropSchema, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { startFullNode } from "./helpers/fullNodes.js";
import { waitFor } from "./helpers/settlementNetwork.js";
import { databaseUrl } from "./helpers/stateDatabases.js";

const HOUR = 3_600;
const DISPUTE_WINDOW = 600;
const Phase = { Accepted: 4, Finalized: 5 } as const;
const STACK_CLOSED = 3;
const UNITS_BOUGHT = 20_000n;
/** Nodes settle a stack on their own once fewer units than this remain. */
const MIN_REMAINING = 64;

/** What the treasury takes of a stack of `bought` units whose used units cost `cost`: the minimum charge's rest. */
const minimumChargeTopUp = (bought: bigint, cost: bigint) => {
  const minimum = costOfUnits(bought, PRICE) / 10n;
  return minimum > cost ? minimum - cost : 0n;
};

let engine: EmbeddedEngine;
let model: TinyModelFile;
beforeAll(async () => {
  ({ engine, model } = await startTinyEngine());
}, 120_000);
afterAll(() => engine?.stop());

const variants = [
  { name: "three embedded databases", postgresUrl: undefined as string | undefined },
  { name: "one node on PostgreSQL", postgresUrl: databaseUrl },
];

/**
 * Issue 5 end to end: four nodes with every production part on anvil (a verified task needs its two attesters
 * and a committee member among the server's peers). The test only buys a stack, sends the owner's requests
 * through the SDK, closes the stack, and moves chain time; the nodes' own workers draw, settle, attest (p = 1:
 * two of the three others), reveal, finalize and claim.
 */
describe.each(variants)("the network end to end ($name)", ({ name, postgresUrl }) => {
  if (name !== variants[0]!.name && postgresUrl === undefined) {
    it.skip("needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)", () => {});
    return;
  }
  const root = mkdtempSync(join(tmpdir(), "atoma-network-"));
  let network: TestNetwork;
  let registered: TestNode[];
  let taskId: bigint;
  const nodes = new Map<bigint, AtomaNode>();
  const schemas: string[] = [];

  beforeAll(async () => {
    network = await startNetwork();
    registered = [];
    for (let i = 0; i < 4; i++) registered.push(await network.addNode());
    taskId = await taskWith(network, registered, {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 3,
    });
    for (const [index, node] of registered.entries()) {
      const started = await startFullNode(network, node, {
        engine,
        model,
        dataDir: join(root, `node-${index}`),
        postgresUrl: index === 0 ? postgresUrl : undefined,
        settlement: { minRemainingUnits: MIN_REMAINING },
      });
      nodes.set(node.nodeId, started.node);
      if (started.schema) schemas.push(started.schema);
    }
    // Nodes serve and attest from the epoch after they registered.
    await network.advance(HOUR);
  }, 240_000);
  afterAll(async () => {
    await Promise.allSettled([...nodes.values()].map((node) => node.stop()));
    await network?.stop();
    if (postgresUrl) for (const schema of schemas) await dropSchema(postgresUrl, schema);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  const clientFor = (stack: { stackId: bigint }, server: TestNode, user: { account: LocalAccount }) =>
    new StackClient({
      nodeUrl: nodes.get(server.nodeId)!.url,
      account: user.account,
      stackId: stack.stackId,
      chainId: network.anvil.chainId,
      stackManager: network.deployment.addresses.StackManager,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
    });
  const accepted = (stackId: bigint) =>
    waitFor(
      "the settlement to be attested, revealed and accepted",
      async () => {
        const settlement = await network.deployment.contracts.settlementManager.read.getSettlement([stackId]);
        return settlement.phase === Phase.Accepted ? settlement : undefined;
      },
      180_000,
    );
  const finalized = (stackId: bigint) =>
    waitFor(
      "the serving node to finalize",
      async () => {
        const [event] = await network.deployment.contracts.settlementManager.getEvents.SettlementFinalized(
          { stackId },
          { fromBlock: 0n },
        );
        return event?.args;
      },
      120_000,
    );

  it("a user buys, asks and is refunded; the nodes settle, attest, reveal, finalize and claim on their own", async () => {
    const { contracts } = network.deployment;
    const user = await network.account();
    const stack = await buyStack(user.ctx, {
      taskId,
      units: UNITS_BOUGHT,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
    });
    const server = registered.find((node) => node.nodeId === stack.nodeId)!;
    const others = registered.filter((node) => node !== server).map((node) => node.nodeId);
    const serverNode = nodes.get(server.nodeId)!;
    await waitForStack(serverNode, stack.stackId);
    const reputationBefore = (await contracts.nodeRegistry.read.getNode([server.nodeId])).reputation;

    const client = clientFor(stack, server, user);
    const chat = { model: model.id, messages: [{ role: "user", content: "Hello, network" }], max_tokens: 6 };
    const streamed: string[] = [];
    const answers: Verified[] = [
      await client.chat(chat),
      await client.chatStream({ ...chat, seed: 3 }, (chunk) => streamed.push(JSON.stringify(chunk))),
      await client.completions({ model: model.id, prompt: "Once upon", max_tokens: 5 }),
      await client.completionsStream({ model: model.id, prompt: "A time", max_tokens: 5, seed: 9 }),
      await client.embeddings({ model: model.id, input: ["one", "two"] }),
    ];
    expect(streamed.length).toBeGreaterThan(0);
    expect(answers.map((a) => a.fields.leafIndex)).toEqual([0n, 1n, 2n, 3n, 4n]);
    const unitsUsed = answers.reduce((sum, a) => sum + a.fields.units, 0n);
    expect(answers.at(-1)!.fields.cumulativeUnits).toBe(unitsUsed);

    // The owner asks; everything from here is the nodes' own doing, but for the clock.
    await closeStack(user.ctx, { stackId: stack.stackId });
    expect(await accepted(stack.stackId)).toMatchObject({ units: unitsUsed, requestCount: answers.length });
    const onChainAttesters = await contracts.settlementManager.read.attestersOf([stack.stackId]);
    const attesters = onChainAttesters.map((a) => a.nodeId);
    expect(attesters).toHaveLength(2);
    expect(new Set(attesters).size).toBe(2);
    for (const id of attesters) expect(others).toContain(id);
    expect(onChainAttesters.every((a) => a.committed)).toBe(true);

    const refundBefore = await contracts.vault.read.balanceOf([user.account.address]);
    await network.advance(DISPUTE_WINDOW + 1);
    const payout = await finalized(stack.stackId);
    const cost = costOfUnits(unitsUsed, PRICE);
    const modelFee = (cost * 500n) / 10_000n;
    expect(payout).toMatchObject({
      nodeId: server.nodeId,
      nodeAmount: cost - modelFee,
      modelAmount: modelFee,
    });
    const surcharge = stack.escrow - costOfUnits(UNITS_BOUGHT, PRICE);
    expect(payout.attesterAmountEach).toBe(surcharge / 2n);
    const paid = payout.nodeAmount! + payout.modelAmount! + 2n * payout.attesterAmountEach!;
    expect(paid).toBeLessThanOrEqual(stack.escrow);
    const refund = (await contracts.vault.read.balanceOf([user.account.address])) - refundBefore;
    const toTreasury = minimumChargeTopUp(UNITS_BOUGHT, cost);
    expect(refund).toBe(costOfUnits(UNITS_BOUGHT - unitsUsed, PRICE) - toTreasury);
    expect(refund + paid + toTreasury).toBe(stack.escrow);
    expect(await contracts.vault.read.escrowOf([toHex(stack.stackId, { size: 32 })])).toBe(0n);
    expect((await contracts.stackManager.read.getStack([stack.stackId])).status).toBe(STACK_CLOSED);
    const epoch = await contracts.vault.read.currentEpoch();
    // What a node can claim is each fee less its burn (devParameters: 5 %).
    const afterBurn = (fee: bigint) => fee - (fee * BigInt(devParameters.vault.feeBurnBps)) / 10_000n;
    for (const id of attesters) {
      const [claimable] = await contracts.vault.read.nodeLedger([id, epoch]);
      expect(claimable).toBe(afterBurn(payout.attesterAmountEach!));
    }
    expect((await contracts.nodeRegistry.read.getNode([server.nodeId])).reputation).toBeGreaterThan(
      reputationBefore,
    );

    await network.advance(HOUR);
    const claimed = await waitFor(
      "the serving node to claim its fee",
      async () => {
        const [event] = await contracts.vault.getEvents.NodeFeesClaimed(
          { nodeId: server.nodeId },
          { fromBlock: 0n },
        );
        return event?.args;
      },
      120_000,
    );
    expect(claimed.amount).toBe(afterBurn(payout.nodeAmount!));
    expect(claimed.operator).toBe(server.operator.walletClient.account!.address);
    const [left] = await contracts.vault.read.nodeLedger([server.nodeId, epoch]);
    expect(left).toBe(0n);
    // The claim is on-chain before the worker, having seen its receipt, records it.
    const state = await waitFor(
      "the serving node to record its claim",
      async () => {
        const row = await serverNode.context.db
          .selectFrom("settlements")
          .select("state")
          .where("stack_id", "=", stack.stackId)
          .executeTakeFirstOrThrow();
        return row.state === "claimed" ? row.state : undefined;
      },
      60_000,
    );
    expect(state).toBe("claimed");
  }, 600_000);
  it("a stack used up is settled by its node unasked, and the owner gets back what was left", async () => {
    const { contracts } = network.deployment;
    const user = await network.account();
    const units = 200n;
    const stack = await buyStack(user.ctx, { taskId, units, maxPricePerMillion: PRICE, duration: 86_400n });
    const server = registered.find((node) => node.nodeId === stack.nodeId)!;
    await waitForStack(nodes.get(server.nodeId)!, stack.stackId);
    const client = clientFor(stack, server, user);
    let unitsUsed = 0n;
    // Ask until the node stops serving: the stack ran out, or its worker froze it for settlement.
    for (let k = 0; k < 20; k++) {
      try {
        const { fields } = await client.chat({
          model: model.id,
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 4,
        });
        unitsUsed += fields.units;
      } catch (error) {
        if (error instanceof NodeRequestError && ["stack_exhausted", "stack_closed"].includes(error.code))
          break;
        throw error;
      }
    }
    expect(units - unitsUsed).toBeLessThan(BigInt(MIN_REMAINING));
    expect(await accepted(stack.stackId)).toMatchObject({ units: unitsUsed });
    const refundBefore = await contracts.vault.read.balanceOf([user.account.address]);
    await network.advance(DISPUTE_WINDOW + 1);
    const payout = await finalized(stack.stackId);
    const refund = (await contracts.vault.read.balanceOf([user.account.address])) - refundBefore;
    const toTreasury = minimumChargeTopUp(units, costOfUnits(unitsUsed, PRICE));
    expect(refund).toBe(costOfUnits(units - unitsUsed, PRICE) - toTreasury);
    expect(
      refund + payout.nodeAmount! + payout.modelAmount! + 2n * payout.attesterAmountEach! + toTreasury,
    ).toBe(stack.escrow);
    expect(await contracts.vault.read.escrowOf([toHex(stack.stackId, { size: 32 })])).toBe(0n);
  }, 600_000);
});
