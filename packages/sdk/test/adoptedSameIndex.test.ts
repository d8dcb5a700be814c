import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChallengeStatus,
  closeStack,
  createAtomaTestClient,
  getChallenge,
  getSettlement,
  SettlementPhase,
} from "@atoma/chain";
import { atomaDomain, type SignedResponseFields, signResponse } from "@atoma/core";
import {
  auditAdoptedStacks,
  createAtomaClient,
  genesisHash,
  type KeptReceipt,
  KeptStacks,
  parseNetwork,
  StackClient,
  signStackRequest,
  userContext,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptStacksBook } from "../src/client/adoptedAuditor.js";
import { ask, cheapestNodeBehindRelay, fundedFreshBuyer } from "./devActors.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

type Fetch = typeof fetch;
const urlOf = (input: Parameters<Fetch>[0]) => (input instanceof Request ? input.url : String(input));

/** Waits until `found` gives something, polling; fails after `ms`. */
async function waitFor<T>(what: string, found: () => Promise<T | undefined> | T | undefined, ms = 180_000) {
  const giveUpAt = Date.now() + ms;
  for (;;) {
    const value = await found();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

/**
 * Review of issue 13, MEDIUM-2, on a real dev network: two clients of one owner, on one store, each adopted a
 * node-signed leaf at index 1 (the node showed each the other's), the node settled one of them and answers every
 * proof request with 500. Before, both leaves were only "unproven" and nobody was challenged; now both are
 * challenged (at most one is under the settled root) and the one the node cannot prove is upheld: the node slashed.
 */
describe("two adopted leaves at one index, every proof withheld (atoma dev)", () => {
  let dev: DevNetwork;
  const stateDir = mkdtempSync(join(tmpdir(), "atoma-sdk-same-index-"));
  beforeAll(async () => {
    dev = await startDevNetwork(1);
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it("challenges both, once each though two audits run at once, and the node is slashed", async () => {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    const fetcher: Fetch = async (input, init) =>
      urlOf(input).includes("/proof/") ? new Response("busy", { status: 500 }) : near.fetch(input, init);
    try {
      const zero = await createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { securityLevel: 0, sort: "price" },
        fetch: near.fetch,
        stateStore: fileStateStore(stateDir),
        adoptedAudit: false,
      }).chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(zero.atoma.stack_id as string);
      // Client B of the owner is answered at leaf 1 (the leaf the node will settle).
      const theirs = await new StackClient({
        nodeUrl: near.cheapest.url,
        account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: network.contracts.StackManager,
        nodeSigner: near.key.address,
      }).chat(ask(dev.ready.model, "Elsewhere"));
      expect(theirs.fields.leafIndex).toBe(1n);
      // The node's other leaf 1: client A's request (owner-signed), answered to nobody, node-signed.
      const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
      const request = await signStackRequest(account, domain, {
        stackId,
        body: ask(dev.ready.model, "never answered"),
        nonce: 1n,
        deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
        maxUnits: 500n,
      });
      const fields: SignedResponseFields = {
        ...theirs.fields,
        reqHash: request.reqHash,
        respHash: keccak256(toHex("an answer nobody got")),
      };
      const forged: KeptReceipt = {
        fields,
        signature: await signResponse(near.key, domain, fields),
        result: "0x",
        adopted: true,
      };
      const real: KeptReceipt = {
        fields: theirs.fields,
        signature: theirs.atoma.signature,
        result: "0x",
        adopted: true,
      };
      // Each client adopted the other's leaf, both kept in the owner's one store.
      const place = {
        chainId: dev.ready.chainId,
        genesis: await genesisHash(ctx),
        stackManager: network.contracts.StackManager,
        owner: account.address,
      };
      const a = new KeptStacks(fileStateStore(stateDir), place);
      const b = new KeptStacks(fileStateStore(stateDir), place);
      await Promise.all([
        a
          .clientOptions(stackId, await a.load(stackId), () => undefined)
          .onReceipt?.(real, { accepted: true }),
        b
          .clientOptions(stackId, await b.load(stackId), () => undefined)
          .onReceipt?.(forged, { accepted: true }),
      ]);
      expect((await a.load(stackId)).receipts.filter((r) => r.receipt.adopted)).toHaveLength(2);
      // A receipt planted in the store (LOW-1: another script on the origin, a hand edit), signed by someone else.
      const plantedFields = { ...fields, respHash: keccak256(toHex("planted")) };
      const planted: KeptReceipt = {
        fields: plantedFields,
        signature: await signResponse(privateKeyToAccount(generatePrivateKey()), domain, plantedFields),
        result: "0x",
        adopted: true,
      };
      await a.update(stackId, (s) => ({ ...s, receipts: [{ receipt: planted }, ...s.receipts] }));

      await closeStack(ctx, { stackId });
      await waitFor("the node's settlement", async () => {
        const s = await getSettlement(ctx, stackId);
        return s.phase === SettlementPhase.Accepted ? s : undefined;
      });
      // Two clients' audits of the stack at once (LOW-2): each leaf is challenged once, one bond each.
      const book = keptStacksBook(a);
      const runs = await Promise.all([
        auditAdoptedStacks(ctx, book, { fetch: fetcher }),
        auditAdoptedStacks(ctx, keptStacksBook(b), { fetch: fetcher }),
      ]);
      const reports = runs.flat();
      expect(reports.map((r) => r.error)).toEqual([undefined, undefined]);
      expect(reports.flatMap((r) => r.unproven)).toEqual([]);
      // The planted receipt is reported and left out; the stack's genuine leaves are audited all the same.
      expect(reports.flatMap((r) => r.rejected ?? []).map((x) => x.reason)).toEqual([
        expect.stringMatching(/not signed by the stack's node/),
        expect.stringMatching(/not signed by the stack's node/),
      ]);
      const opened = reports.flatMap((r) => r.opened);
      expect(opened.map((c) => c.leafIndex)).toEqual([1n, 1n]);
      expect(new Set(opened.map((c) => c.challengeId)).size).toBe(2);

      const time = createAtomaTestClient({ rpcUrl: dev.ready.rpcUrl, chainId: dev.ready.chainId });
      await time.increaseTime({ seconds: 301 });
      await time.mine({ blocks: 1 });
      await auditAdoptedStacks(ctx, book, { fetch: fetcher });
      const statuses = await Promise.all(
        opened.map(async (c) => (await getChallenge(ctx, c.challengeId)).status),
      );
      expect(statuses).toContain(ChallengeStatus.Upheld);
      expect((await getSettlement(ctx, stackId)).phase).not.toBe(SettlementPhase.Accepted);
    } finally {
      await near.relay.close();
    }
  }, 600_000);
});
