import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChallengeStatus,
  closeStack,
  createAtomaTestClient,
  getChallenge,
  getNode,
  getSettlement,
  SettlementPhase,
} from "@atoma/chain";
import { atomaDomain, type SignedResponseFields, STACK_HEADERS, signResponse, toReceipt } from "@atoma/core";
import {
  createAtomaClient,
  genesisHash,
  type KeptReceipt,
  KeptStacks,
  NonceGapError,
  parseNetwork,
  SealedNonceMovedError,
  type StackAuditReport,
  StackClient,
  signStackRequest,
  userContext,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import { keccak256, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, cheapestNodeBehindRelay, fundedFreshBuyer } from "./devActors.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

const refusal = (status: number, code: string, type: string) =>
  new Response(JSON.stringify({ error: { message: code, type, code } }), {
    status,
    headers: { "content-type": "application/json" },
  });

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
 * Issue 13's last review (MED-1 and "nothing runs the audit on its own") on a real dev network: a colluding node
 * shows the owner's direct client a leaf at a nonce another client of the owner took, the client adopts it, and the
 * node settles the other leaf there. The adopted receipt lives in the client's file store; the process ends; a new
 * client on the same store, whose code nobody tells to audit, challenges the settlement when it next makes a call,
 * and its watcher resolves the challenge once the node's answer window is over: the node is slashed.
 */
describe("the adopted-leaf audit runs on its own (atoma dev, two nodes)", () => {
  let dev: DevNetwork;
  const stateDir = mkdtempSync(join(tmpdir(), "atoma-sdk-state-"));
  beforeAll(async () => {
    dev = await startDevNetwork(2);
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it("after a restart on the same store, never adopts the leaf of its own request the node refused outright and committed (MED-1)", async () => {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const origin = new URL(near.cheapest.url).origin;
    let refuseAfterCommit = false;
    const fetcher: Fetch = async (input, init) => {
      const url = urlOf(input);
      if (refuseAfterCommit && url.startsWith(origin) && url.includes("/v1/chat")) {
        // The node commits the request (it holds the owner's signature) and answers it 400, as refused.
        await (await near.fetch(input, init)).arrayBuffer();
        return refusal(400, "invalid_request", "invalid_request_error");
      }
      return near.fetch(input, init);
    };
    const dir = mkdtempSync(join(tmpdir(), "atoma-sdk-state-"));
    const receipts: KeptReceipt[] = [];
    const run = () =>
      createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { securityLevel: 0, sort: "price" },
        fetch: fetcher,
        stateStore: fileStateStore(dir),
        onReceipt: (r) => receipts.push(r),
      });
    try {
      const zero = await run().chat(ask(dev.ready.model, "Hello"));
      refuseAfterCommit = true;
      await expect(run().chat(ask(dev.ready.model, "Refused"))).rejects.toMatchObject({ status: 400 });
      refuseAfterCommit = false;
      // The next process takes the stack up from the files: its leaf 0, and the hash of the request refused at 1.
      // The node calls nonce 1 used and shows there this owner's own request: never adopted, nothing signed past it.
      await expect(run().chat(ask(dev.ready.model, "Next run"))).rejects.toBeInstanceOf(NonceGapError);
      expect(receipts.some((r) => r.adopted)).toBe(false);
      expect(receipts.map((r) => r.fields.stackId)).toEqual([BigInt(zero.atoma.stack_id as string)]);
    } finally {
      await near.relay.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("never signs a sealed envelope again at another nonce after adopting the leaf at its own", async () => {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const network = parseNetwork(dev.readyText);
    const receipts: KeptReceipt[] = [];
    const zero = await createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { securityLevel: 0, sort: "price" },
      fetch: near.fetch,
      onReceipt: (r) => receipts.push(r),
    }).chat(ask(dev.ready.model, "Hello"));
    const stackId = BigInt(zero.atoma.stack_id as string);
    const client = (fetcher: Fetch, kept: KeptReceipt[] = []) =>
      new StackClient({
        nodeUrl: near.cheapest.url,
        account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: network.contracts.StackManager,
        nodeSigner: near.key.address,
        receipts: kept,
        fetch: fetcher,
      });
    try {
      // Another client of the owner takes leaf 1.
      await client(near.fetch).chat(ask(dev.ready.model, "Elsewhere"));
      // This client sends a sealed envelope signed at nonce 1: the node calls it used and shows the other's leaf.
      const sent: string[] = [];
      const origin = new URL(near.cheapest.url).origin;
      const mine = client(async (input, init) => {
        const url = urlOf(input);
        if (url.startsWith(origin) && url.includes("/v1/chat")) {
          sent.push(new Headers(init?.headers).get("x-atoma-nonce") ?? "?");
          return refusal(409, "nonce_reused", "conflict_error");
        }
        return near.fetch(input, init);
      }, receipts);
      const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
      const envelope = await signStackRequest(account, domain, {
        stackId,
        body: { atoma_confidential: { sealed: "to nonce 1 and its deadline" } },
        nonce: 1n,
        deadline: mine.deadline(),
        maxUnits: 500n,
      });
      const caught = await mine
        .sendPresigned("/v1/chat/completions", envelope)
        .catch((error: unknown) => error);
      expect(caught).toBeInstanceOf(SealedNonceMovedError);
      // Adopted, and nothing signed or sent at nonce 2: the envelope opens only at nonce 1.
      expect(mine.receipts.some((r) => r.adopted && r.fields.leafIndex === 1n)).toBe(true);
      expect(sent).toEqual(["1"]);
      expect(mine.signedHashes.filter((h) => h.nonce === 2n)).toEqual([]);
      expect(mine.nextNonce).toBe(2n);
    } finally {
      await near.relay.close();
    }
  }, 300_000);

  it("a client that knows nothing of the stack never signs a sealed envelope again at the nonce the node names", async () => {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const network = parseNetwork(dev.readyText);
    const zero = await createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { securityLevel: 0, sort: "price" },
      fetch: near.fetch,
    }).chat(ask(dev.ready.model, "Hello"));
    const stackId = BigInt(zero.atoma.stack_id as string);
    try {
      // A client of the owner with no state: its envelope is sealed to nonce 0, which the other client took.
      const sent: string[] = [];
      const origin = new URL(near.cheapest.url).origin;
      const blank = new StackClient({
        nodeUrl: near.cheapest.url,
        account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: network.contracts.StackManager,
        nodeSigner: near.key.address,
        fetch: async (input, init) => {
          const url = urlOf(input);
          if (!(url.startsWith(origin) && url.includes("/v1/chat"))) return near.fetch(input, init);
          sent.push(new Headers(init?.headers).get("x-atoma-nonce") ?? "?");
          // The node took leaf 0 for the other client, and names 1 (the stack is level 0: a real sealed body would be
          // refused for its level first).
          const refused = refusal(409, "nonce_reused", "conflict_error");
          refused.headers.set(STACK_HEADERS.nextNonce, "1");
          return refused;
        },
      });
      const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
      const envelope = await signStackRequest(account, domain, {
        stackId,
        body: { atoma_confidential: { sealed: "to nonce 0 and its deadline" } },
        nonce: 0n,
        deadline: blank.deadline(),
        maxUnits: 500n,
      });
      const caught = await blank
        .sendPresigned("/v1/chat/completions", envelope)
        .catch((error: unknown) => error);
      // Its sender seals again to the nonce the node named: nothing was signed or sent there with the old envelope.
      expect(caught).toBeInstanceOf(SealedNonceMovedError);
      expect(sent).toEqual(["0"]);
      expect(blank.signedHashes.filter((h) => h.nonce === 1n)).toEqual([]);
      expect(blank.nextNonce).toBe(1n);
    } finally {
      await near.relay.close();
    }
  }, 300_000);

  it("a dev chain started again: what the owner's store kept for the same stack id on the earlier chain is never read", async () => {
    const account = await fundedFreshBuyer(dev);
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    const store = fileStateStore(mkdtempSync(join(stateDir, "restarted-")));
    const chat = () =>
      createAtomaClient({
        network: dev.readyText,
        account,
        stateStore: store,
        preferences: { securityLevel: 0, sort: "price" },
      }).chat(ask(dev.ready.model, "Hello"));
    const first = await chat();
    const stackId = BigInt(first.atoma.stack_id as string);
    // The earlier chain (same id, same contract addresses, another block 0): its stack of this id had four leaves.
    const here = {
      chainId: dev.ready.chainId,
      stackManager: network.contracts.StackManager,
      owner: account.address,
    };
    const earlier = new KeptStacks(store, { ...here, genesis: `0x${"e0".repeat(32)}` });
    const old = (await new KeptStacks(store, { ...here, genesis: await genesisHash(ctx) }).load(stackId))
      .receipts[0]!.receipt;
    await earlier.update(stackId, (s) => ({
      ...s,
      receipts: [0n, 1n, 2n, 3n].map((leaf) => ({
        receipt: { ...old, fields: { ...old.fields, leafIndex: leaf, nonce: leaf } },
      })),
    }));
    // The next run on this chain signs at leaf 1 (not past the earlier chain's four), and answers.
    const second = await chat();
    expect(second.atoma.stack_id).toBe(first.atoma.stack_id);
    expect(second.atoma.leaf_index).toBe("1");
    // Neither chain's state is dropped: the earlier one's four leaves stay where they were kept.
    expect((await earlier.load(stackId)).receipts).toHaveLength(4);
  }, 300_000);

  it("a kept receipt the store holds but the node never signed (the store changed) is reported and never the base of the next nonce", async () => {
    const account = await fundedFreshBuyer(dev);
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    const store = fileStateStore(mkdtempSync(join(stateDir, "edited-")));
    const rejected: { stackId: bigint; reasons: string[] }[] = [];
    const chat = () =>
      createAtomaClient({
        network: dev.readyText,
        account,
        stateStore: store,
        preferences: { securityLevel: 0, sort: "price" },
        onKeptReceiptsRejected: (stackId, problems) =>
          rejected.push({ stackId, reasons: problems.map((p) => p.reason) }),
      }).chat(ask(dev.ready.model, "Hello"));
    const first = await chat();
    const stackId = BigInt(first.atoma.stack_id as string);
    const kept = new KeptStacks(store, {
      chainId: dev.ready.chainId,
      stackManager: network.contracts.StackManager,
      owner: account.address,
      genesis: await genesisHash(ctx),
    });
    // Leaf 30 with a running total far ahead, signed by the owner rather than the node.
    const real = (await kept.load(stackId)).receipts[0]!.receipt;
    const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
    const fields = { ...real.fields, leafIndex: 30n, nonce: 30n, cumulativeUnits: 900_000n };
    const forged = { ...real, fields, signature: await signResponse(account, domain, fields) };
    await kept.update(stackId, (s) => ({ ...s, receipts: [...s.receipts, { receipt: forged }] }));
    const second = await chat();
    expect(second.atoma.stack_id).toBe(first.atoma.stack_id);
    expect(second.atoma.leaf_index).toBe("1");
    expect(rejected).toEqual([
      { stackId, reasons: [expect.stringMatching(/not signed by the stack's node/)] },
    ]);
    // The store still holds it: the owner's to look at.
    expect((await kept.load(stackId)).receipts.map((r) => r.receipt.signature)).toContain(forged.signature);
  }, 300_000);

  // Last: its node is slashed, and serves nobody after it.
  it("a node that left an adopted leaf out of its settled root is challenged and slashed, with no audit called by hand", async () => {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    const origin = new URL(near.cheapest.url).origin;
    const lie = {
      cut: false,
      leaf: undefined as { stack: string; body: unknown } | undefined,
      /** The node refuses every leaf proof (it settled: it could prove what it settled, and will not). */
      refuseProofs: false,
    };
    const fetcher: Fetch = async (input, init) => {
      const url = urlOf(input);
      if (lie.cut && url.startsWith(origin) && url.includes("/v1/chat"))
        throw new TypeError("the connection broke before the node");
      if (lie.leaf && url.includes(`/v1/stacks/${lie.leaf.stack}/leaves/1`))
        return Response.json(lie.leaf.body);
      if (lie.refuseProofs && url.includes("/proof/")) return refusal(503, "busy", "server_error");
      return near.fetch(input, init);
    };
    const options = {
      network: dev.readyText,
      account,
      preferences: { securityLevel: 0, sort: "price" as const },
      fetch: fetcher,
    };
    try {
      // Run 1: the owner's client keeps its state in files. Leaf 0 answered, its request at nonce 1 lost.
      const first = createAtomaClient({
        ...options,
        stateStore: fileStateStore(stateDir),
        adoptedAudit: false,
      });
      const zero = await first.chat(ask(dev.ready.model, "Hello"));
      const stack = zero.atoma.stack_id as string;
      const stackId = BigInt(stack);
      lie.cut = true;
      await expect(first.chat(ask(dev.ready.model, "Lost"))).rejects.toThrow();
      lie.cut = false;
      // Another client of the owner takes leaf 1 for real.
      const other = new StackClient({
        nodeUrl: near.cheapest.url,
        account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: network.contracts.StackManager,
        nodeSigner: near.key.address,
      });
      const theirs = await other.chat(ask(dev.ready.model, "Elsewhere"));
      expect(theirs.fields.leafIndex).toBe(1n);
      // The colluding node shows run 1 another leaf 1: a request the owner signed, never answered, whose running
      // total matches the real one (so the next leaf checks out against it); it will settle the real leaf 1.
      const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
      const request = await signStackRequest(account, domain, {
        stackId,
        body: ask(dev.ready.model, "never sent"),
        nonce: 1n,
        deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
        maxUnits: 500n,
      });
      const fields: SignedResponseFields = {
        ...theirs.fields,
        reqHash: request.reqHash,
        respHash: keccak256(toHex("an answer nobody got")),
      };
      const atoma = toReceipt(BigInt(near.cheapest.id), fields, await signResponse(near.key, domain, fields));
      lie.leaf = {
        stack,
        body: {
          object: "stack.leaf",
          stack_id: stack,
          nonce: "1",
          atoma,
          request: {
            request_hash: request.reqHash,
            nonce: "1",
            deadline: request.headers["x-atoma-deadline"],
            max_units: request.headers["x-atoma-max-units"],
            signature: request.headers["x-atoma-signature"],
          },
        },
      };
      const two = await first.chat(ask(dev.ready.model, "Third"));
      expect(two.atoma.stack_id).toBe(stack);
      expect(two.atoma.leaf_index).toBe("2");
      lie.leaf = undefined;

      // What run 1 kept, read as a new process would (MED-1): the adopted receipt and the stack on the audit's list.
      const kept = new KeptStacks(fileStateStore(stateDir), {
        chainId: dev.ready.chainId,
        genesis: await genesisHash(ctx),
        stackManager: network.contracts.StackManager,
        owner: account.address,
      });
      expect(await kept.adoptedStacks()).toEqual([stackId]);
      const state = await kept.load(stackId);
      expect(state.receipts.filter((r) => r.receipt.adopted).map((r) => r.receipt.signature)).toEqual([
        atoma.signature,
      ]);
      expect(state.receipts.map((r) => r.receipt.fields.leafIndex)).toEqual([0n, 1n, 2n]);

      // Run 1 ends. The owner closes the stack; the node settles leaves 0..2 with its real leaf 1.
      await closeStack(ctx, { stackId });
      const settled = await waitFor("the node's settlement", async () => {
        const s = await getSettlement(ctx, stackId);
        return s.phase === SettlementPhase.Accepted ? s : undefined;
      });
      expect(Number(settled.requestCount)).toBe(3);
      const nodeId = BigInt(near.cheapest.id);
      const collateral = (await getNode(ctx, nodeId)).collateral;

      // Run 2, on the same files, audits on its own: its first call starts the audit; nobody calls it.
      const reports: StackAuditReport[][] = [];
      const errors: unknown[] = [];
      const stop = new AbortController();
      // At first the node gives no proof of leaf 1 either way: no bond is taken, and after two runs (over no time
      // here) the leaf is reported as persistently unproven, for the caller to act on (review LOW).
      lie.refuseProofs = true;
      const second = createAtomaClient({
        ...options,
        stateStore: fileStateStore(stateDir),
        adoptedAudit: {
          everyMs: 0,
          watchMs: 1_000,
          signal: stop.signal,
          unprovenEscalation: { runs: 2, afterMs: 0 },
        },
        onAdoptedAudit: (r, error) => {
          reports.push(r);
          if (error !== undefined) errors.push(error);
        },
      });
      try {
        await second.chat(ask(dev.ready.model, "After the settlement"));
        const stuck = await waitFor("the leaf reported persistently unproven", () =>
          reports.flat().find((r) => r.stackId === stackId && r.persistentlyUnproven.length > 0),
        );
        expect(stuck.persistentlyUnproven).toMatchObject([{ leafIndex: 1n, runs: 2 }]);
        expect(reports.flat().flatMap((r) => r.opened)).toEqual([]);
        expect((await kept.load(stackId)).unproven).toMatchObject([{ leafIndex: 1n }]);
        // The node proves its own leaf 1 again: the adopted one is definitively not settled.
        lie.refuseProofs = false;
        const opened = await waitFor("the audit's challenge", () =>
          reports.flat().find((r) => r.stackId === stackId && r.opened.length > 0),
        );
        expect(errors).toEqual([]);
        expect(opened.opened).toMatchObject([{ leafIndex: 1n, upheld: false }]);
        const challengeId = opened.opened[0]!.challengeId;
        // Kept as soon as its transaction was mined.
        expect((await kept.load(stackId)).challenges).toMatchObject([{ challengeId, leafIndex: 1n }]);
        expect((await getChallenge(ctx, challengeId)).status).toBe(ChallengeStatus.Open);

        // The node cannot prove the adopted leaf under its root: once its answer window is over, the watcher
        // resolves the challenge and the node is slashed.
        const time = createAtomaTestClient({ rpcUrl: dev.ready.rpcUrl, chainId: dev.ready.chainId });
        await time.increaseTime({ seconds: 301 });
        await time.mine({ blocks: 1 });
        const resolved = await waitFor("the watcher's resolution", () =>
          reports.flat().find((r) => r.stackId === stackId && r.resolved.length > 0),
        );
        expect(resolved.resolved).toMatchObject([{ challengeId, upheld: true }]);
        expect(resolved.resolved[0]!.slashed).toBe(collateral);
        expect((await getChallenge(ctx, challengeId)).status).toBe(ChallengeStatus.Upheld);
        expect((await getNode(ctx, nodeId)).collateral).toBe(0n);
        expect((await kept.load(stackId)).challenges).toMatchObject([{ challengeId, resolved: true }]);
      } finally {
        stop.abort();
      }
    } finally {
      await near.relay.close();
    }
  }, 600_000);
});
