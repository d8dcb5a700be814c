import { buyStackFromNode } from "@atoma/chain";
import type { DevNode } from "@atoma/chain/devnet";
import { atomaVaultAbi } from "@atoma/contracts";
import { evidenceHash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LevelThreeLiars, startLevelThreeLiars } from "../../chain/test/levelThreeLiars.js";
import { claimRefunds, MAX_POSTED_PER_NODE_EPOCH, StatementKeeper } from "../src/index.js";

/**
 * Issue 14, C-2, non-custodial: a user bought a level-3 stack from a node that vouched for evidence it never posted.
 * The statements the client kept claim the refund; an honest node's cost no gas; a made-up one is not kept.
 */
describe("claimRefunds against anvil", () => {
  let liars: LevelThreeLiars;
  let liar: DevNode & { url: string };
  let honest: DevNode & { url: string };

  beforeAll(async () => {
    liars = await startLevelThreeLiars("tiny-sdk-refunds");
    liar = await liars.addNode();
    honest = await liars.addNode();
    await liars.devnet.nextEpoch();
  }, 180_000);
  afterAll(() => liars?.stop());

  it("claims a liar's stack's refund once due, from the statements kept; never an honest node's", async () => {
    const { devnet, taskId } = liars;
    const user = await devnet.account();
    await liars.attest(liar);
    await liars.serveStatement(liar, evidenceHash("dev", "0xfeedface"));
    await liars.serveStatement(honest, await liars.attest(honest));
    const buy = (node: DevNode) =>
      buyStackFromNode(user.ctx, {
        taskId,
        nodeId: node.nodeId,
        units: 100_000n,
        maxPricePerMillion: 10n ** 19n,
        duration: 3_600n,
      });
    const lied = (await buy(liar)).stackId;
    const fair = (await buy(honest)).stackId;
    const keeper = new StatementKeeper();
    // Review F11: the liar's statement names evidence other than the evidence it serves beside it: kept (its signed
    // word), and reported.
    const unbound: [bigint, string][] = [];
    expect(
      await keeper.collect(user.ctx, { nodeId: liar.nodeId, url: liar.url }, fetch, (id, why) =>
        unbound.push([id, why]),
      ),
    ).toBeDefined();
    expect(unbound).toHaveLength(1);
    expect(unbound[0]![0]).toBe(liar.nodeId);
    expect(unbound[0]![1]).toContain(evidenceHash("dev", "0xfeedface"));
    expect(await keeper.collect(user.ctx, { nodeId: honest.nodeId, url: honest.url })).toBeDefined();
    // Another node's statement, served as this one's: proves nothing, not kept.
    expect(await keeper.collect(user.ctx, { nodeId: liar.nodeId, url: honest.url })).toBeUndefined();
    const sent = () => devnet.publicClient.getTransactionCount({ address: user.account.address });
    const before = await sent();
    // Its epoch not over: the node may still post the hash (refused at simulation: no gas).
    const early = await claimRefunds(user.ctx, {
      stackId: lied,
      statements: keeper.statementsOf(liar.nodeId),
    });
    expect(early.map((one) => [one.outcome, one.reason])).toEqual([["not_yet", "EpochNotOver"]]);
    await devnet.nextEpoch();
    const unsettled = await claimRefunds(user.ctx, {
      stackId: lied,
      statements: keeper.statementsOf(liar.nodeId),
    });
    expect(unsettled.map((one) => [one.outcome, one.reason])).toEqual([["not_yet", "SettlementNotOver"]]);
    const honestOnes = await claimRefunds(user.ctx, {
      stackId: fair,
      statements: keeper.statementsOf(honest.nodeId),
    });
    expect(honestOnes.map((one) => one.outcome)).toEqual(["honest"]);
    expect(await sent()).toBe(before);

    await liars.settleAndFinalize(liar, [lied]);
    const vault = () =>
      devnet.publicClient.readContract({
        address: devnet.deployment.addresses.AtomaVault,
        abi: atomaVaultAbi,
        functionName: "balanceOf",
        args: [user.account.address],
      });
    const vaultBefore = await vault();
    // Saved and read back, as a client that claims days later does.
    const saved = new StatementKeeper(keeper.toJSON());
    const paid = await claimRefunds(user.ctx, { stackId: lied, statements: saved.statementsOf(liar.nodeId) });
    expect(paid.map((one) => one.outcome)).toEqual(["refunded"]);
    expect(await vault()).toBeGreaterThan(vaultBefore);
    expect(await sent()).toBe(before + 1);
    const again = await claimRefunds(user.ctx, {
      stackId: lied,
      statements: saved.statementsOf(liar.nodeId),
    });
    expect(again.map((one) => [one.outcome, one.already])).toEqual([["refunded", true]]);
    expect(await sent()).toBe(before + 1);
  }, 180_000);

  // Review S5 F1 on the client: a lying node serves the keeper its posted statements first (each a posted hash: gas),
  // then the lie; and statements of epochs to come or long past, to fill it.
  it("keeps the lie a node serves after crowding the keeper with its posted statements, and no other epoch's", async () => {
    const { devnet } = liars;
    const user = await devnet.account();
    const crowder = await liars.addNode();
    const keeper = new StatementKeeper();
    const at = { nodeId: crowder.nodeId, url: crowder.url };
    const epoch = await liars.currentEpoch();
    const kept: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      await liars.serveStatement(crowder, await liars.attest(crowder));
      kept.push((await keeper.collect(user.ctx, at))?.evidenceHash);
    }
    expect(kept.filter((hash) => hash !== undefined)).toHaveLength(MAX_POSTED_PER_NODE_EPOCH);
    const lie = await liars.serveStatement(crowder, evidenceHash("dev", "0xc0ffee"));
    expect((await keeper.collect(user.ctx, at))?.evidenceHash).toBe(lie.evidenceHash);
    // Epochs to come and one long past: not kept (the node signs them at will); the one before is.
    for (const other of [epoch + 1n, epoch + 50n, epoch - 2n]) {
      await liars.serveStatement(crowder, evidenceHash("dev", "0xfade"), other);
      expect(await keeper.collect(user.ctx, at)).toBeUndefined();
    }
    const before = await liars.serveStatement(crowder, evidenceHash("dev", "0xbef0"), epoch - 1n);
    expect((await keeper.collect(user.ctx, at))?.evidenceHash).toBe(before.evidenceHash);
    const statements = keeper.statementsOf(crowder.nodeId);
    expect(statements.map((one) => one.evidenceHash)).toContain(lie.evidenceHash);
    expect(statements).toHaveLength(MAX_POSTED_PER_NODE_EPOCH + 2);
    // Saved and read back: the posted ones still fill their cap, so another posted one is not kept; a lie still is.
    const saved = new StatementKeeper(keeper.toJSON());
    expect(saved.statementsOf(crowder.nodeId)).toEqual(statements);
    await liars.serveStatement(crowder, await liars.attest(crowder));
    expect(await saved.collect(user.ctx, at)).toBeUndefined();
    const second = await liars.serveStatement(crowder, evidenceHash("dev", "0xc0ffee02"));
    expect((await saved.collect(user.ctx, at))?.evidenceHash).toBe(second.evidenceHash);
  }, 180_000);
});
