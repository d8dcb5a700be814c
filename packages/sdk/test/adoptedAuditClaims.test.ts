import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ChallengeStatus,
  challengeManagerAbi,
  challengeSettlement,
  closeStack,
  createAtomaTestClient,
  getChallenge,
  getNode,
  getSettlement,
  SettlementPhase,
} from "@atoma/chain";
import { atomaDomain, type SignedResponseFields, signResponse } from "@atoma/core";
import {
  auditAdoptedStacks,
  challengeAdoptedNotSettled,
  createAtomaClient,
  genesisHash,
  type KeptReceipt,
  KeptStacks,
  parseNetwork,
  StackClient,
  userContext,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import { erc20Abi, type Hex, keccak256, type PrivateKeyAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptStacksBook } from "../src/client/adoptedAuditor.js";
import { ask, devNodeKey, fundedFreshBuyer } from "./devActors.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

const run = promisify(execFile);
const urlOf = (input: Parameters<typeof fetch>[0]) => (input instanceof Request ? input.url : String(input));
const refuseProofs: typeof fetch = async (input, init) =>
  urlOf(input).includes("/proof/") ? new Response("busy", { status: 500 }) : fetch(input, init);

async function waitFor<T>(what: string, found: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const giveUpAt = Date.now() + ms;
  for (;;) {
    const value = await found();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

/** One owner's settled stack, its state directory, and the node-signed leaves it holds. */
interface OwnerStack {
  key: Hex;
  account: PrivateKeyAccount;
  dir: string;
  stackId: bigint;
  kept: KeptStacks;
  /** The leaves the node answered beyond the first (their receipts, kept by no one yet). */
  answered: KeptReceipt[];
}

/**
 * Second review of issue 13, I, D and H, on one shared dev network: two processes of an owner auditing one store
 * send each challenge once; a run sends two leaves at one index back to back, at most 8 challenges, and checks the
 * owner holds every bond first; a node slashed for something else meanwhile never crashes the audit.
 */
describe("the adopted-leaf audit's challenges (atoma dev)", () => {
  let dev: DevNetwork;
  let network: ReturnType<typeof parseNetwork>;
  const dirs: string[] = [];
  const owners: OwnerStack[] = [];

  /** A node-signed leaf at `fields`' index other than `fields` (another request's answer), adopted. */
  const forge = async (fields: SignedResponseFields, tag: string): Promise<KeptReceipt> => {
    const domain = atomaDomain(dev.ready.chainId, network.contracts.StackManager);
    const other = {
      ...fields,
      reqHash: keccak256(toHex(`req ${tag}`)),
      respHash: keccak256(toHex(`resp ${tag}`)),
    };
    return {
      fields: other,
      signature: await signResponse(devNodeKey(dev, 0), domain, other),
      result: "0x",
      adopted: true,
    };
  };

  /** Adopts `receipts` into the owner's store, as a client of the owner shown them would. */
  const adopt = async (owner: OwnerStack, receipts: KeptReceipt[]) => {
    for (const receipt of receipts)
      await owner.kept
        .clientOptions(owner.stackId, await owner.kept.load(owner.stackId), () => undefined)
        .onReceipt?.({ ...receipt, adopted: true }, { accepted: true });
  };

  const openedOn = async (stackId: bigint) => {
    const ctx = userContext(network, owners[0]!.account);
    return ctx.publicClient.getContractEvents({
      address: network.contracts.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId },
      fromBlock: 0n,
    });
  };

  beforeAll(async () => {
    dev = await startDevNetwork(1);
    network = parseNetwork(dev.readyText);
    const node = dev.ready.nodes[0]!;
    // Six owners, each with a stack of `1 + more` answered leaves, settled (Accepted) before any slash.
    for (const more of [1, 2, 1, 1, 1, 1]) {
      const key = generatePrivateKey();
      const account = await fundedFreshBuyer(dev, key);
      const dir = mkdtempSync(join(tmpdir(), "atoma-sdk-claims-"));
      dirs.push(dir);
      const ctx = userContext(network, account);
      const zero = await createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { securityLevel: 0, sort: "price" },
        stateStore: fileStateStore(dir),
        adoptedAudit: false,
      }).chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(zero.atoma.stack_id as string);
      const other = new StackClient({
        nodeUrl: node.url,
        account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: network.contracts.StackManager,
        nodeSigner: devNodeKey(dev, 0).address,
      });
      const answered: KeptReceipt[] = [];
      for (let i = 0; i < more; i++) {
        const r = await other.chat(ask(dev.ready.model, `Elsewhere ${i}`));
        answered.push({ fields: r.fields, signature: r.atoma.signature, result: "0x" });
      }
      const kept = new KeptStacks(fileStateStore(dir), {
        chainId: dev.ready.chainId,
        genesis: await genesisHash(ctx),
        stackManager: network.contracts.StackManager,
        owner: account.address,
      });
      owners.push({ key, account, dir, stackId, kept, answered });
      await closeStack(ctx, { stackId });
    }
    for (const owner of owners)
      await waitFor("the node's settlement", async () => {
        const s = await getSettlement(userContext(network, owner.account), owner.stackId);
        return s.phase === SettlementPhase.Accepted ? s : undefined;
      });
  }, 400_000);

  afterAll(async () => {
    await dev?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("I: two processes auditing one store at once send each challenge once", async () => {
    const owner = owners[0]!;
    const real = owner.answered[0]!;
    await adopt(owner, [real, await forge(real.fields, "i")]);
    const networkFile = join(owner.dir, "..", `network-${owner.stackId}.json`);
    writeFileSync(networkFile, dev.readyText);
    dirs.push(networkFile);
    const startAt = String(Date.now() + 15_000);
    const child = () =>
      run(process.execPath, [
        "--import",
        "tsx",
        join(import.meta.dirname, "auditAdoptedChild.ts"),
        networkFile,
        owner.key,
        owner.dir,
        startAt,
      ]);
    const outs = await Promise.all([child(), child()]);
    const reports = outs.flatMap((o) => JSON.parse(o.stdout) as { error?: unknown; opened: unknown[] }[]);
    expect(reports.map((r) => r.error)).toEqual([undefined, undefined]);
    const opened = await openedOn(owner.stackId);
    // One challenge per leaf (two leaves at index 1), however the two processes interleaved: no bond wasted.
    expect(opened).toHaveLength(2);
    expect(new Set(opened.map((l) => l.args.leaf)).size).toBe(2);
    expect(reports.flatMap((r) => r.opened)).toHaveLength(2);
    expect((await owner.kept.load(owner.stackId)).claims).toBeUndefined();
  }, 120_000);

  it("D: pairs back to back, at most 8 a run, bonds checked before the first is sent", async () => {
    const owner = owners[1]!;
    const ctx = userContext(network, owner.account);
    const [one, two] = owner.answered as [KeptReceipt, KeptReceipt];
    const zero = (await owner.kept.load(owner.stackId)).receipts[0]!.receipt;
    // Interleaved: index 0 ×3 (the client's own leaf and two others), index 1 ×4, index 2 ×2: nine in all.
    await adopt(owner, [
      await forge(zero.fields, "d0a"),
      one,
      two,
      await forge(zero.fields, "d0b"),
      await forge(one.fields, "d1a"),
      await forge(two.fields, "d2a"),
      await forge(one.fields, "d1b"),
      await forge(one.fields, "d1c"),
    ]);
    // The owner holds less than the bonds of the seven challenges the run would send: nothing is sent.
    const token = network.contracts.AtomaToken;
    const balanceOf = () =>
      ctx.publicClient.readContract({
        address: token,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [owner.account.address],
      });
    const asideAccount = privateKeyToAccount(generatePrivateKey());
    const aside = asideAccount.address;
    const moved = (await balanceOf()) - 6n * 10n ** 18n;
    await ctx.publicClient.waitForTransactionReceipt({
      hash: await ctx.walletClient.writeContract({
        address: token,
        abi: erc20Abi,
        functionName: "transfer",
        args: [aside, moved],
        chain: null,
        account: owner.account,
      }),
    });
    const short = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(short[0]?.error).toMatchObject({ code: "challenge_bonds_short" });
    expect(await openedOn(owner.stackId)).toHaveLength(0);
    expect((await owner.kept.load(owner.stackId)).claims).toBeUndefined();

    // Topped up (anvil lets the aside address give it back): the run sends seven, each index's leaves together.
    const time = createAtomaTestClient({ rpcUrl: dev.ready.rpcUrl, chainId: dev.ready.chainId });
    await time.setBalance({ address: aside, value: 10n ** 18n });
    const asideCtx = userContext(network, asideAccount);
    await asideCtx.publicClient.waitForTransactionReceipt({
      hash: await asideCtx.walletClient.writeContract({
        address: token,
        abi: erc20Abi,
        functionName: "transfer",
        args: [owner.account.address, moved],
        chain: null,
        account: asideAccount,
      }),
    });
    const [report] = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(report?.error).toBeUndefined();
    const order = (await openedOn(owner.stackId)).map((l) => l.args.leafIndex);
    expect(order).toHaveLength(7);
    expect(order.length).toBeLessThanOrEqual(8);
    // Back to back: the indices never come back once left.
    const runs = order.filter((index, k) => k === 0 || order[k - 1] !== index);
    expect(new Set(runs).size).toBe(runs.length);
    expect(report?.deferred?.map((d) => d.receipt.fields.leafIndex)).toEqual([2n, 2n]);
  }, 180_000);

  it("MEDIUM-2: a proof past the settled count goes first, free, outside the cap, with no bond to fund the rest", async () => {
    const owner = owners[3]!;
    const ctx = userContext(network, owner.account);
    const one = owner.answered[0]!;
    const zero = (await owner.kept.load(owner.stackId)).receipts[0]!.receipt;
    const settled = await getSettlement(ctx, owner.stackId);
    expect(settled.requestCount).toBe(2);
    // Ten bonded leaves (five at each index, more than the run's cap of 8) ahead of one past the settled count.
    const others: KeptReceipt[] = [];
    for (const k of [1, 2, 3, 4])
      others.push(await forge(zero.fields, `m0${k}`), await forge(one.fields, `m1${k}`));
    const beyond = await forge({ ...one.fields, leafIndex: 2n }, "m-beyond");
    await adopt(owner, [one, ...others, beyond]);
    // The owner holds no token at all: not one bond.
    const balance = await ctx.publicClient.readContract({
      address: network.contracts.AtomaToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner.account.address],
    });
    await ctx.publicClient.waitForTransactionReceipt({
      hash: await ctx.walletClient.writeContract({
        address: network.contracts.AtomaToken,
        abi: erc20Abi,
        functionName: "transfer",
        args: [privateKeyToAccount(generatePrivateKey()).address, balance],
        chain: null,
        account: owner.account,
      }),
    });
    const [report] = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(report?.error).toBeUndefined();
    expect(report?.opened.map((c) => [c.leafIndex, c.upheld])).toEqual([[2n, true]]);
    const opened = await openedOn(owner.stackId);
    expect(opened.map((l) => l.args.leafIndex)).toEqual([2n]);
    expect((await getChallenge(ctx, report!.opened[0]!.challengeId)).status).toBe(ChallengeStatus.Upheld);
    expect((await owner.kept.load(owner.stackId)).claims).toBeUndefined();
  }, 180_000);

  it("MEDIUM-2: with the stack's 8 answerable challenges taken, a proof past the settled count still goes", async () => {
    const owner = owners[4]!;
    const ctx = userContext(network, owner.account);
    const one = owner.answered[0]!;
    // Eight answerable challenges opened already (by hand here; earlier runs in life): `challengesOf` is at the cap.
    for (const k of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const leaf = await forge(k % 2 === 0 ? one.fields : { ...one.fields, leafIndex: 0n }, `cap${k}`);
      const opened = await challengeSettlement(ctx, {
        stackId: owner.stackId,
        response: leaf.fields,
        signature: leaf.signature,
      });
      expect(opened.upheld).toBe(false);
    }
    const max = await ctx.publicClient.readContract({
      address: network.contracts.ChallengeManager,
      abi: challengeManagerAbi,
      functionName: "challengesOf",
      args: [owner.stackId],
    });
    expect(max).toBe(8n);
    await adopt(owner, [await forge({ ...one.fields, leafIndex: 2n }, "cap-beyond")]);
    const [report] = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(report?.error).toBeUndefined();
    expect(report?.deferred ?? []).toEqual([]);
    expect(report?.opened.map((c) => [c.leafIndex, c.upheld])).toEqual([[2n, true]]);
  }, 180_000);

  it("LOW-6: claims are refreshed before each send, and a leaf whose claim another process took is not sent", async () => {
    const owner = owners[5]!;
    const ctx = userContext(network, owner.account);
    const one = owner.answered[0]!;
    const beyond = await forge({ ...one.fields, leafIndex: 2n }, "low6");
    const refreshed: string[][] = [];
    const released: string[] = [];
    const result = await challengeAdoptedNotSettled(ctx, {
      stackId: owner.stackId,
      receipts: [{ ...beyond, adopted: true }],
      nodeUrl: dev.ready.nodes[0]!.url,
      fetch: refuseProofs,
      claim: async (leaves) => [...leaves],
      // This run's claim lapsed and another process of the owner took it: that one sends it.
      refresh: async (leaves) => {
        refreshed.push([...leaves]);
        return [];
      },
      release: async (leaf) => {
        released.push(leaf);
      },
    });
    expect(refreshed).toHaveLength(1);
    expect(result.opened).toEqual([]);
    expect(await openedOn(owner.stackId)).toHaveLength(0);
    // Not let go either: the claim is the other process's now.
    expect(released).toEqual([]);
  }, 60_000);

  it("H: a node slashed for something else in the window: the audit still challenges, then resolves or reports", async () => {
    const owner = owners[2]!;
    const ctx = userContext(network, owner.account);
    const real = owner.answered[0]!;
    await adopt(owner, [real, await forge(real.fields, "h")]);
    // Owner 0 proves a leaf past its stack's settled count: the node is slashed at once, on another stack.
    const first = owners[0]!;
    const firstCtx = userContext(network, first.account);
    const settled = await getSettlement(firstCtx, first.stackId);
    const past = await forge(
      { ...first.answered[0]!.fields, leafIndex: BigInt(settled.requestCount) },
      "past",
    );
    const slash = await challengeSettlement(firstCtx, {
      stackId: first.stackId,
      response: past.fields,
      signature: past.signature,
    });
    expect(slash.upheld).toBe(true);
    const node = await getNode(ctx, BigInt(dev.ready.nodes[0]!.id));
    expect(node.collateral).toBe(0n);

    const [report] = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(report?.error).toBeUndefined();
    expect(report?.state).toBe("open");
    expect(report?.opened).toHaveLength(2);

    const time = createAtomaTestClient({ rpcUrl: dev.ready.rpcUrl, chainId: dev.ready.chainId });
    await time.increaseTime({ seconds: 301 });
    await time.mine({ blocks: 1 });
    const [later] = await auditAdoptedStacks(ctx, keptStacksBook(owner.kept), { fetch: refuseProofs });
    expect(later?.error).toBeUndefined();
    // Every challenge is resolved, or named with why it could not be: none lost, the run never thrown.
    const seen = [
      ...(later?.resolved ?? []).map((r) => r.challengeId),
      ...(later?.unresolved ?? []).map((u) => u.challengeId),
    ];
    expect(seen.sort()).toEqual(report!.opened.map((c) => c.challengeId).sort());
    const statuses = await Promise.all(
      report!.opened.map(async (c) => (await getChallenge(ctx, c.challengeId)).status),
    );
    expect(statuses).toContain(ChallengeStatus.Upheld);
  }, 180_000);
});
