import { type ChainContext, finalizeSettlement, submitSettlement } from "@atoma/chain";
import type { DevNode, Devnet } from "@atoma/chain/devnet";
import { atomaVaultAbi, attestationRegistryAbi, settlementManagerAbi } from "@atoma/contracts";
import { evidenceHash } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { keccak256, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LevelThreeLiars, startLevelThreeLiars } from "../../chain/test/levelThreeLiars.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { StackPool } from "../src/network/stackPool.js";
import { RefundBook } from "../src/refunds/refundBook.js";
import { RefundWatcher } from "../src/refunds/refundWatcher.js";
import { spentWeiOf } from "./helpers/sealedChargeRows.js";
import { chargeOnStack, holdOnStack, newKeyId } from "./helpers/stackCharges.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const MODEL = "tiny-confidential";
const [embedded, postgres] = testDatabases() as [
  ReturnType<typeof testDatabases>[0],
  ReturnType<typeof testDatabases>[0],
];

/**
 * Issue 14, C-2: a level-3 node that vouches (signs `ServedEvidence`) for evidence it never posted, serving the
 * gateway's stacks. The gateway keeps what it was served and claims the refunds itself: no one calls by hand.
 */
describe("the gateway's refund watcher against anvil", () => {
  let devnet: Devnet;
  let liar: DevNode;
  let honest: DevNode;
  let catalog: NetworkCatalog;
  let liars: LevelThreeLiars;
  const served = new Map<bigint, unknown>();
  const made: TestDatabaseConfig[] = [];
  const opened: OpenedDatabase[] = [];
  const attest = (node: DevNode) => liars.attest(node);
  /** Sets what the node serves, and keeps a copy of its answer (what a key's session would be served). */
  const serveStatement = async (node: DevNode, hash: `0x${string}`) => {
    const statement = await liars.serveStatement(node, hash);
    served.set(node.nodeId, await (await fetch(new URL("/v1/attestation", urls.get(node.nodeId)))).json());
    return statement;
  };
  const urls = new Map<bigint, string>();

  /** One gateway: its database, wallet, pool and watcher. */
  const gatewayOver = (one: OpenedDatabase, wallet: ChainContext, shared = false) => {
    const pool = new StackPool(
      { db: one.db, chain: wallet, sharedWallet: shared },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: 100_000n,
        durationSeconds: 86_400n,
        maxStacksPerModel: 4,
      },
    );
    const book = new RefundBook(one.db);
    const sealed = new SealedCharges(one.db);
    // As the gateway wires it (`startGateway`): its held charges settled by the stack's final settlement.
    const settleHeld = async (stackId: bigint, paidUnits: bigint) => {
      await sealed.settleBySettlement(stackId, paidUnits, (await pool.lastReceipt(stackId))?.fields);
    };
    const watcher = new RefundWatcher(
      { book, chain: wallet, wallet: pool, settleHeld },
      { retryMs: 0, collectEveryMs: 0 },
    );
    return { pool, book, watcher, db: one.db };
  };
  /** A level-3 stack of `node` the gateway's pool buys (as a confidential session does), then gives back. */
  const buyFrom = async (pool: StackPool, node: DevNode) => {
    await catalog.refresh();
    const stack = await pool.lease(catalog.model(MODEL)!, 10n, [[node.nodeId]], true);
    await pool.release(stack, undefined);
    return stack.stackId;
  };
  const sentBy = (wallet: ChainContext) =>
    devnet.admin.publicClient.getTransactionCount({ address: wallet.walletClient.account.address });
  const refundedTotal = (stackId: bigint) =>
    devnet.admin.publicClient.readContract({
      address: devnet.deployment.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "refundedTotal",
      args: [stackId],
    });
  const vaultOf = (wallet: ChainContext) =>
    devnet.admin.publicClient.readContract({
      address: devnet.deployment.addresses.AtomaVault,
      abi: atomaVaultAbi,
      functionName: "balanceOf",
      args: [wallet.walletClient.account.address],
    });
  const settleAndFinalize = (node: DevNode, stackIds: bigint[]) => liars.settleAndFinalize(node, stackIds);
  const newDatabase = async (which = embedded) => {
    const db = which.make();
    made.push(db);
    const one = await openGatewayDatabase(db.config);
    opened.push(one);
    return { one, config: db.config };
  };

  type GatewayUnderTest = ReturnType<typeof gatewayOver> & { wallet: ChainContext };
  /** Gateway A (embedded): a stack of the liar's and one of the honest node's, bought in the lying epoch. */
  let a: GatewayUnderTest & { one: OpenedDatabase; lied: bigint; fair: bigint };
  /** Gateway B (embedded): a stack of the liar's; it dies between a claim's send and its receipt. */
  let b: GatewayUnderTest & { config: Parameters<typeof openGatewayDatabase>[0]; lied: bigint };
  /** Gateway E (embedded): a stack of the liar's with a sealed charge still held when its refund is paid. */
  let e: GatewayUnderTest & { lied: bigint };
  /** Gateway D (embedded): a stack of the liar's whose settlement is disputed when the claim is made. */
  let d: GatewayUnderTest & { lied: bigint };
  /** Gateways C1 and C2 sharing one PostgreSQL database and wallet: a stack of the liar's. */
  let c: { one: GatewayUnderTest; two: GatewayUnderTest; lied: bigint } | undefined;

  beforeAll(async () => {
    liars = await startLevelThreeLiars(MODEL);
    devnet = liars.devnet;
    const [first, second] = [await liars.addNode(), await liars.addNode()];
    liar = first;
    honest = second;
    for (const node of [first, second]) urls.set(node.nodeId, node.url);
    await devnet.nextEpoch();
    catalog = new NetworkCatalog(readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }), {
      modelNames: [MODEL],
      nodeTimeoutMs: 200,
      allowPrivateNodeUrls: true,
    });
    // The lying epoch: the liar posts one hash and vouches for another; the honest node vouches for what it posted.
    await attest(liar);
    await serveStatement(liar, evidenceHash("dev", "0xfeedface"));
    await serveStatement(honest, await attest(honest));
    {
      const { one } = await newDatabase();
      const wallet = (await devnet.account(parseEther("100"))).ctx;
      const gateway = gatewayOver(one, wallet);
      a = {
        ...gateway,
        wallet,
        one,
        lied: await buyFrom(gateway.pool, liar),
        fair: await buyFrom(gateway.pool, honest),
      };
    }
    {
      const { one, config } = await newDatabase();
      const wallet = (await devnet.account(parseEther("100"))).ctx;
      const gateway = gatewayOver(one, wallet);
      b = { ...gateway, wallet, config, lied: await buyFrom(gateway.pool, liar) };
    }
    {
      const { one } = await newDatabase();
      const wallet = (await devnet.account(parseEther("100"))).ctx;
      const gateway = gatewayOver(one, wallet);
      d = { ...gateway, wallet, lied: await buyFrom(gateway.pool, liar) };
    }
    {
      const { one } = await newDatabase();
      const wallet = (await devnet.account(parseEther("100"))).ctx;
      const gateway = gatewayOver(one, wallet);
      e = { ...gateway, wallet, lied: await buyFrom(gateway.pool, liar) };
    }
    if (!postgres.skip) {
      const db = postgres.make();
      made.push(db);
      const [first, second] = [await openGatewayDatabase(db.config), await openGatewayDatabase(db.config)];
      opened.push(first, second);
      const wallet = (await devnet.account(parseEther("100"))).ctx;
      const one = { ...gatewayOver(first, wallet, true), wallet };
      c = { one, two: { ...gatewayOver(second, wallet, true), wallet }, lied: await buyFrom(one.pool, liar) };
    }
  }, 180_000);

  afterAll(async () => {
    for (const one of opened) await one.close().catch(() => undefined);
    for (const db of made) await db.dispose();
    await liars?.stop();
  });

  it("claims the refund of a liar's stack once its epoch is over and its settlement final, crediting the key that paid; never for an honest node", async () => {
    const { one, wallet, lied, fair } = a;
    const gateway = a;
    // A squatter's session on the liar's stack came first and used one wei's worth; the payer's was charged 1 TOMA.
    const squatter = await newKeyId(one.db, "opened the first session on the liar's stack");
    const keyId = await newKeyId(one.db, "paid for the liar's stack");
    await chargeOnStack(one.db, squatter, lied, 1n);
    await chargeOnStack(one.db, keyId, lied, parseEther("1"));
    // A key's confidential session on the liar's stack was served the statement (the attestation route keeps it).
    await gateway.watcher.keepServed(served.get(liar.nodeId), {
      stackId: lied,
      nodeId: liar.nodeId,
      nodeSigner: liar.signerAccount.address,
    });
    // A statement another node's signer made up, or for another node, is not kept.
    await gateway.watcher.keepServed(served.get(honest.nodeId), {
      stackId: lied,
      nodeId: liar.nodeId,
      nodeSigner: liar.signerAccount.address,
    });
    const before = await sentBy(wallet);
    // Inside the epoch the liar could still post that hash: nothing is claimed, no gas spent.
    await gateway.watcher.pass();
    expect(await sentBy(wallet)).toBe(before);
    const kept = await one.db.selectFrom("served_statements").selectAll().execute();
    expect(kept.map((row) => BigInt(row.node_id)).sort()).toEqual([liar.nodeId, honest.nodeId].sort());
    expect(await one.db.selectFrom("refund_claims").selectAll().execute()).toEqual([]);

    await devnet.nextEpoch();
    // The epoch is over: the lie is proven, but the stack's settlement is not final: refused by the simulation
    // (no transaction), kept pending and tried again.
    await gateway.watcher.pass();
    expect(await sentBy(wallet)).toBe(before);
    expect((await gateway.book.claimsOf(lied)).map((claim) => claim.state)).toEqual(["pending"]);
    expect(await gateway.book.claimsOf(fair)).toEqual([]);
    const verdicts = await one.db.selectFrom("served_statements").select(["node_id", "verdict"]).execute();
    expect(verdicts.find((row) => BigInt(row.node_id) === honest.nodeId)?.verdict).toBe("posted");
    expect(verdicts.find((row) => BigInt(row.node_id) === liar.nodeId)?.verdict).toBe("lie");

    await settleAndFinalize(liar, [lied]);
    await settleAndFinalize(honest, [fair]);
    const vaultBefore = await vaultOf(wallet);
    const sentBefore = await sentBy(wallet);
    await gateway.watcher.pass();
    expect(await sentBy(wallet)).toBe(sentBefore + 1);
    expect((await gateway.book.claimsOf(lied)).map((claim) => claim.state)).toEqual(["refunded"]);
    const refunded = await refundedTotal(lied);
    expect(refunded).toBeGreaterThan(0n);
    expect(await vaultOf(wallet)).toBe(vaultBefore + refunded);
    expect(await refundedTotal(fair)).toBe(0n);
    // Split by what each key was charged on the stack, once: the squatter gets at most its one wei, the payer the rest.
    const squatterShare = await spentWeiOf(one.db, squatter).then((left) => 1n - left);
    expect(squatterShare).toBeLessThanOrEqual(1n);
    expect(await spentWeiOf(one.db, keyId)).toBe(parseEther("1") - (refunded - squatterShare));
    await gateway.watcher.pass();
    expect(await sentBy(wallet)).toBe(sentBefore + 1);
    expect(await spentWeiOf(one.db, keyId)).toBe(parseEther("1") - (refunded - squatterShare));
    expect(await gateway.book.creditsOf(lied)).toEqual(
      new Map([
        [keyId, refunded - squatterShare],
        ...(squatterShare > 0n ? [[squatter, squatterShare] as const] : []),
      ]),
    );
  }, 180_000);

  // A gateway killed (kill -9) after its claim's transaction went out and before its receipt: the restarted gateway
  // reads the claim back from the chain (a transaction still pending is waited for), never resends it blindly.
  it("recovers a claim a crash left between its send and its receipt from the chain, sending nothing again", async () => {
    await b.watcher.pass();
    const [claim] = await b.book.claimsOf(b.lied);
    expect(claim?.state).toBe("pending");
    await settleAndFinalize(liar, [b.lied]);
    // What the dead gateway did: took the claim, broadcast its transaction; the transaction is not mined yet.
    expect(await b.book.take(claim!, await devnet.admin.publicClient.getBlockNumber())).toBe(true);
    await devnet.testClient.setAutomine(false);
    const sentBefore = await sentBy(b.wallet);
    await b.wallet.walletClient.writeContract({
      address: devnet.deployment.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "refundUnposted",
      args: [claim!.nodeId, claim!.epoch, claim!.evidenceHash, claim!.signature, b.lied],
      account: b.wallet.walletClient.account,
      chain: b.wallet.walletClient.chain,
      gas: 1_000_000n,
    });
    const db = opened.find((one) => one.db === b.db)!;
    await db.close();
    const reopened = await openGatewayDatabase(b.config);
    opened.push(reopened);
    const restarted = gatewayOver(reopened, b.wallet);
    try {
      // Its transaction still pending: the claim stays sending, nothing is sent.
      await restarted.watcher.pass();
      expect((await restarted.book.claimsOf(b.lied)).map((one) => one.state)).toEqual(["sending"]);
      expect(
        await devnet.admin.publicClient.getTransactionCount({
          address: b.wallet.walletClient.account.address,
          blockTag: "pending",
        }),
      ).toBe(sentBefore + 1);
    } finally {
      await devnet.testClient.setAutomine(true);
      await devnet.testClient.mine({ blocks: 1 });
    }
    await restarted.watcher.pass();
    expect((await restarted.book.claimsOf(b.lied)).map((one) => one.state)).toEqual(["refunded"]);
    expect(await sentBy(b.wallet)).toBe(sentBefore + 1);
    expect(await refundedTotal(b.lied)).toBeGreaterThan(0n);
    // No key paid for it (no session was served the statement on it): the refund stays the operator's, recorded.
    const credited = await reopened.db.selectFrom("stack_refunds").selectAll().execute();
    expect(credited.map((row) => [BigInt(row.stack_id), row.key_id, BigInt(row.credited_wei)])).toEqual([
      [b.lied, null, await refundedTotal(b.lied)],
    ]);
  }, 180_000);

  // Review refunds2 M1: a key's sealed stream aborted with no receipt holds its charge until the stack's settlement,
  // and the refund waits for every hold on the stack. The settlement watcher gives a stack up a day past its expiry
  // (none runs here, as for a settlement finalized later than that): the refund watcher settles the holds itself.
  it("credits a refund paid while a sealed charge on the stack is still held, settling the hold by the settlement", async () => {
    const honestKey = await newKeyId(e.db, "paid for the liar's stack");
    const aborter = await newKeyId(e.db, "aborted its sealed stream");
    await chargeOnStack(e.db, honestKey, e.lied, parseEther("1"));
    await holdOnStack(e.db, aborter, e.lied, parseEther("1"), 100n);
    await e.watcher.pass();
    expect((await e.book.claimsOf(e.lied)).map((claim) => claim.state)).toEqual(["pending"]);
    await settleAndFinalize(liar, [e.lied]);
    await e.watcher.pass();
    expect((await e.book.claimsOf(e.lied)).map((claim) => claim.state)).toEqual(["refunded"]);
    const refunded = await refundedTotal(e.lied);
    expect(refunded).toBeGreaterThan(0n);
    // The hold settled at its floor (no receipt, nothing paid past none), the rest back to the aborter; then the
    // refund was split by what each finally paid: 1 TOMA to 100 wei.
    expect(await e.db.selectFrom("sealed_charges").selectAll().execute()).toEqual([]);
    const credits = await e.book.creditsOf(e.lied);
    const honestShare = credits.get(honestKey) ?? 0n;
    const aborterShare = credits.get(aborter) ?? 0n;
    expect(honestShare + aborterShare).toBe(refunded);
    // Its proportion, rounded either way (largest remainder); weighed by its reservation it would take half.
    expect(aborterShare - (refunded * 100n) / (parseEther("1") + 100n)).toBeOneOf([0n, 1n]);
    expect(await spentWeiOf(e.db, honestKey)).toBe(parseEther("1") - honestShare);
    expect(await spentWeiOf(e.db, aborter)).toBe(100n - aborterShare);
    expect((await e.book.creditOf(e.lied))?.creditedWei).toBe(refunded);
  }, 180_000);

  // Two gateways sharing one PostgreSQL database and wallet run the watcher at once: one claim goes out.
  it.skipIf(postgres.skip)(
    "sends one claim when two gateways on one database race to it",
    async () => {
      const { one, two, lied } = c!;
      await settleAndFinalize(liar, [lied]);
      const before = await sentBy(one.wallet);
      await Promise.all([one.watcher.pass(), two.watcher.pass(), one.watcher.pass(), two.watcher.pass()]);
      await Promise.all([one.watcher.pass(), two.watcher.pass()]);
      expect(await sentBy(one.wallet)).toBe(before + 1);
      // Taken once: the other gateway never took it (it would have sent it, or spent a simulation on it).
      expect((await one.book.claimsOf(lied)).map((claim) => [claim.state, claim.tries])).toEqual([
        ["refunded", 1],
      ]);
      const refunds = await devnet.admin.publicClient.getContractEvents({
        address: devnet.deployment.addresses.AttestationRegistry,
        abi: attestationRegistryAbi,
        eventName: "BuyerRefunded",
        args: { stackId: lied },
        fromBlock: 0n,
      });
      expect(refunds).toHaveLength(1);
      const credited = await one.db.selectFrom("stack_refunds").selectAll().execute();
      expect(credited.map((row) => BigInt(row.credited_wei))).toEqual([await refundedTotal(lied)]);
    },
    180_000,
  );

  // The liar holds the stack's settlement disputed (as its answers to owner challenges would): the claim made then is
  // recorded (nothing paid yet) and the watcher sends it again once the settlement is finalized.
  it("records a claim made while the settlement is disputed and is paid after it is finalized", async () => {
    const settlement = {
      address: devnet.deployment.addresses.SettlementManager,
      abi: settlementManagerAbi,
    } as const;
    // What the challenge manager does on an owner challenge, and on its resolution: a protocol role's calls.
    const protocol = await devnet.account();
    const role = await devnet.publicClient.readContract({ ...settlement, functionName: "PROTOCOL_ROLE" });
    const asProtocol = async (
      functionName: "markChallenged" | "onDisputeResolved",
      args: readonly unknown[],
    ) => {
      const hash = await protocol.ctx.walletClient.writeContract({
        ...settlement,
        functionName,
        args,
        account: protocol.account,
        chain: protocol.ctx.walletClient.chain,
      } as never);
      await devnet.publicClient.waitForTransactionReceipt({ hash });
    };
    const grant = await devnet.admin.walletClient.writeContract({
      ...settlement,
      functionName: "grantRole",
      args: [role, protocol.account.address],
      account: devnet.admin.walletClient.account,
      chain: devnet.admin.walletClient.chain,
    } as never);
    await devnet.publicClient.waitForTransactionReceipt({ hash: grant });
    await d.watcher.pass();
    expect((await d.book.claimsOf(d.lied)).map((claim) => claim.state)).toEqual(["pending"]);
    await submitSettlement(liar.signer, {
      stackId: d.lied,
      root: keccak256(stringToBytes(`disputed ${d.lied}`)),
      units: 50_000n,
      requestCount: 1n,
      transcriptId: `0x${"cd".repeat(32)}`,
    });
    await asProtocol("markChallenged", [d.lied]);
    const before = await sentBy(d.wallet);
    await d.watcher.pass();
    expect((await d.book.claimsOf(d.lied)).map((claim) => claim.state)).toEqual(["recorded"]);
    expect(await sentBy(d.wallet)).toBe(before + 1);
    expect(await refundedTotal(d.lied)).toBe(0n);
    // Still disputed: tried again, refused at simulation, nothing sent.
    await d.watcher.pass();
    expect(await sentBy(d.wallet)).toBe(before + 1);
    expect((await d.book.claimsOf(d.lied)).map((claim) => claim.state)).toEqual(["recorded"]);
    await asProtocol("onDisputeResolved", [d.lied, true, false]);
    await devnet.advance(3_600);
    await finalizeSettlement((await devnet.account()).ctx, { stackIds: [d.lied] });
    await d.watcher.pass();
    expect((await d.book.claimsOf(d.lied)).map((claim) => claim.state)).toEqual(["refunded"]);
    expect(await sentBy(d.wallet)).toBe(before + 2);
    expect(await refundedTotal(d.lied)).toBeGreaterThan(0n);
  }, 180_000);
});
