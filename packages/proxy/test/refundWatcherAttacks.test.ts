import { type ChainContext, refundUnposted, servedEvidenceTypedData } from "@atoma/chain";
import type { DevNode, Devnet } from "@atoma/chain/devnet";
import { attestationRegistryAbi } from "@atoma/contracts";
import { evidenceHash } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { type Hex, parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LevelThreeLiars, startLevelThreeLiars } from "../../chain/test/levelThreeLiars.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { StackPool } from "../src/network/stackPool.js";
import { RefundBook } from "../src/refunds/refundBook.js";
import { RefundWatcher } from "../src/refunds/refundWatcher.js";
import { spentWeiOf } from "./helpers/sealedChargeRows.js";
import { chargeOnStack, newKeyId } from "./helpers/stackCharges.js";
import { testDatabases } from "./helpers/testDatabases.js";

const MODEL = "tiny-confidential";
const [embedded] = testDatabases();

/**
 * Review S5: a level-3 liar working around the gateway's refund watcher. F1: crowding its lie out with honest
 * statements; F2: statements of epochs to come; F4: the stack refunded first through another statement; F5: the lie
 * served to others only, proven on-chain by someone else.
 */
describe("the refund watcher against a liar working around it", () => {
  let devnet: Devnet;
  let liars: LevelThreeLiars;
  let catalog: NetworkCatalog;
  let crowder: DevNode;
  let liar: DevNode;
  let other: DevNode;
  const opened: OpenedDatabase[] = [];
  const disposers: (() => Promise<void>)[] = [];

  const gateway = async () => {
    const made = embedded!.make();
    disposers.push(() => made.dispose());
    const one = await openGatewayDatabase(made.config);
    opened.push(one);
    const wallet = (await devnet.account(parseEther("100"))).ctx;
    const pool = new StackPool(
      { db: one.db, chain: wallet },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: 100_000n,
        durationSeconds: 86_400n,
        maxStacksPerModel: 8,
      },
    );
    const book = new RefundBook(one.db);
    const watcher = new RefundWatcher(
      { book, chain: wallet, wallet: pool },
      { retryMs: 0, collectEveryMs: 0 },
    );
    return { db: one.db, wallet, pool, book, watcher };
  };
  const buyFrom = async (pool: StackPool, node: DevNode) => {
    await catalog.refresh();
    const stack = await pool.lease(catalog.model(MODEL)!, 10n, [[node.nodeId]], true);
    await pool.release(stack, undefined);
    return stack.stackId;
  };
  /** The node's signed statement that `hash` is its record for `epoch`, served to no one yet. */
  const sign = async (node: DevNode, hash: Hex, epoch: bigint) => {
    const statement = { nodeId: node.nodeId, epoch, evidenceHash: hash };
    const signature = await node.signerAccount.signTypedData(
      servedEvidenceTypedData(
        devnet.anvil.chainId,
        devnet.deployment.addresses.AttestationRegistry,
        statement,
      ),
    );
    return { ...statement, signature };
  };
  const answerWith = (statement: { nodeId: bigint; epoch: bigint; evidenceHash: Hex; signature: Hex }) => ({
    object: "atoma.attestation",
    statement: {
      node_id: String(statement.nodeId),
      epoch: String(statement.epoch),
      evidence_hash: statement.evidenceHash,
      signature: statement.signature,
    },
  });
  const refundedTotal = (stackId: bigint) =>
    devnet.admin.publicClient.readContract({
      address: devnet.deployment.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "refundedTotal",
      args: [stackId],
    });
  const statementsOf = (db: OpenedDatabase["db"], nodeId: bigint) =>
    db.selectFrom("served_statements").selectAll().where("node_id", "=", nodeId).execute();

  beforeAll(async () => {
    liars = await startLevelThreeLiars(MODEL);
    devnet = liars.devnet;
    [crowder, liar, other] = [await liars.addNode(), await liars.addNode(), await liars.addNode()];
    await devnet.nextEpoch();
    catalog = new NetworkCatalog(readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }), {
      modelNames: [MODEL],
      nodeTimeoutMs: 200,
      allowPrivateNodeUrls: true,
    });
  }, 180_000);

  afterAll(async () => {
    for (const one of opened) await one.close().catch(() => undefined);
    for (const dispose of disposers) await dispose();
    await liars?.stop();
  });

  it("keeps a lie served after the node filled the gateway with its honest statements (F1), and no future epochs (F2)", async () => {
    const liar = crowder;
    await liars.serveStatement(liar, await liars.attest(liar));
    const g = await gateway();
    const stackId = await buyFrom(g.pool, liar);
    const on = { stackId, nodeId: liar.nodeId, nodeSigner: liar.signerAccount.address };
    const epoch = await liars.currentEpoch();
    // Ten hashes posted this epoch, each served once on the node's own session (no-nonce calls are not limited).
    for (let i = 0; i < 10; i++)
      await g.watcher.keepServed(answerWith(await sign(liar, await liars.attest(liar), epoch)), on);
    const lie = await sign(liar, evidenceHash("dev", "0xbadbad"), epoch);
    await g.watcher.keepServed(answerWith(lie), on);
    const kept = await statementsOf(g.db, liar.nodeId);
    expect(kept.map((row) => row.evidence_hash)).toContain(lie.evidenceHash);
    expect(kept.length).toBeLessThanOrEqual(3);
    // Statements of epochs to come (a thousand would be a thousand rows): none is kept.
    const before = kept.length;
    for (let ahead = 1n; ahead <= 20n; ahead++)
      await g.watcher.keepServed(
        answerWith(
          await sign(liar, evidenceHash("dev", `0x${ahead.toString(16).padStart(2, "0")}`), epoch + ahead),
        ),
        on,
      );
    expect(await statementsOf(g.db, liar.nodeId)).toHaveLength(before);
    await devnet.nextEpoch();
    await g.watcher.pass();
    const judged = await statementsOf(g.db, liar.nodeId);
    expect(judged.find((row) => row.evidence_hash === lie.evidenceHash)?.verdict).toBe("lie");
    expect((await g.book.claimsOf(stackId)).map((claim) => claim.state)).toEqual(["pending"]);
  }, 180_000);

  it("credits a refund someone else claimed first with another lie (F4) and claims its stacks of a node whose lie others proved on-chain (F5)", async () => {
    await liars.serveStatement(liar, await liars.attest(liar));
    await liars.serveStatement(other, await liars.attest(other));
    const g = await gateway();
    const stranger = await gateway();
    const [x, w] = [await buyFrom(g.pool, liar), await buyFrom(g.pool, other)];
    const v = await buyFrom(stranger.pool, other);
    const keyId = await newKeyId(g.db, "paid for x");
    await chargeOnStack(g.db, keyId, x, parseEther("1"));
    const epoch = await liars.currentEpoch();
    // The liar serves the gateway lie S1 (on the key's session); S2 and S3 go to others only.
    const s1 = await sign(liar, evidenceHash("dev", "0x5101"), epoch);
    await g.watcher.keepServed(answerWith(s1), {
      stackId: x,
      nodeId: liar.nodeId,
      nodeSigner: liar.signerAccount.address,
    });
    const s2 = await sign(liar, evidenceHash("dev", "0x5202"), epoch);
    const s3 = await sign(other, evidenceHash("dev", "0x5303"), epoch);
    await devnet.nextEpoch();
    await liars.settleAndFinalize(liar, [x]);
    await liars.settleAndFinalize(other, [w, v]);
    // A third party refunds the gateway's stack x with S2 first (the refund goes to the gateway's wallet), and the
    // stranger's stack v with S3.
    const third = (await devnet.account(parseEther("1"))).ctx;
    await refundUnposted(third, { ...s2, stackId: x });
    await refundUnposted(third as ChainContext, { ...s3, stackId: v });
    const paidX = await refundedTotal(x);
    expect(paidX).toBeGreaterThan(0n);
    await g.watcher.pass();
    await g.watcher.pass();
    // F4: its own claim with S1 is refused (nothing left to refund), yet the key is credited what the wallet got,
    // once (S2, learned from the chain too, is found refunded already: no second transaction pays anything).
    const claims = await g.book.claimsOf(x);
    expect(claims.find((claim) => claim.evidenceHash === s1.evidenceHash)?.state).toBe("refused");
    expect(await refundedTotal(x)).toBe(paidX);
    expect(await spentWeiOf(g.db, keyId)).toBe(parseEther("1") - paidX);
    // F5: the gateway never saw S3, but learned it from the chain and got its own stack w of that node refunded.
    expect((await statementsOf(g.db, other.nodeId)).map((row) => row.evidence_hash)).toContain(
      s3.evidenceHash,
    );
    expect((await g.book.claimsOf(w)).map((claim) => claim.state)).toEqual(["refunded"]);
    expect(await refundedTotal(w)).toBeGreaterThan(0n);
  }, 180_000);
});
