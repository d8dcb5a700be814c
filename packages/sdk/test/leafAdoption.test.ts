import { getStack } from "@atoma/chain";
import { atomaDomain, parseReceipt, type SignedResponseFields, signResponse, toReceipt } from "@atoma/core";
import {
  createAtomaClient,
  findKeptReceiptFraud,
  type KeptReceipt,
  LeafEquivocationError,
  NodeUnreachableError,
  parseNetwork,
  RunningTotalError,
  StackClient,
  signStackRequest,
  type WithheldReceipt,
} from "@atoma/sdk";
import { createPublicClient, http, keccak256, type LocalAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, cheapestNodeBehindRelay, fundedFreshBuyer } from "./devActors.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

type Fetch = typeof fetch;
const urlOf = (input: Parameters<Fetch>[0]) => (input instanceof Request ? input.url : String(input));
const refusal = (status: number, code: string, type: string) =>
  new Response(JSON.stringify({ error: { message: code, type, code } }), {
    status,
    headers: { "content-type": "application/json" },
  });

/**
 * Issue 13's last item on a real dev network (atoma dev, two nodes): a node's `nonce_reused` on a request the owner
 * signed is checked against the leaf the node shows at that nonce (`GET /v1/stacks/{id}/leaves/{nonce}`). Another
 * client of the same owner's leaf is adopted and the stack goes on; a node that cannot show one is withholding, as
 * before; a node that shows a leaf breaking what it signed before leaves the owner its evidence.
 */
describe("nonce_reused against the leaf the node shows (atoma dev, two nodes)", () => {
  let dev: DevNetwork;
  beforeAll(async () => {
    dev = await startDevNetwork(2);
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
  }, 60_000);

  /**
   * The owner's client on the cheapest node, behind `lie`: while `lie.cut`, chat requests fail before they reach
   * the node (a lost connection: the request stays pending); `lie.answer` may answer a request itself (a node's lie).
   */
  async function ownerClient() {
    const account = await fundedFreshBuyer(dev);
    const near = await cheapestNodeBehindRelay(dev);
    const lie = {
      cut: false,
      answer: undefined as
        | ((
            url: string,
            forward: () => Promise<Response>,
          ) => Response | Promise<Response | undefined> | undefined)
        | undefined,
    };
    const fetch: Fetch = async (input, init) => {
      const url = urlOf(input);
      if (lie.cut && url.includes("/v1/chat")) throw new TypeError("the connection broke before the node");
      return (await lie.answer?.(url, () => near.fetch(input, init))) ?? near.fetch(input, init);
    };
    const origin = new URL(near.cheapest.url).origin;
    /** A chat request to the cheapest node (not the leaf read, not another node's). */
    const chatToNear = (url: string) => url.startsWith(origin) && url.includes("/v1/chat");
    const aside: { nodeId: bigint; reason: string }[] = [];
    const withheld: WithheldReceipt[] = [];
    const receipts: KeptReceipt[] = [];
    const client = createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { sort: "price" },
      fetch,
      onNodePutAside: (nodeId, reason) => aside.push({ nodeId, reason }),
      onReceiptWithheld: (w) => withheld.push(w),
      onReceipt: (receipt) => receipts.push(receipt),
    });
    return { account, ...near, lie, client, aside, withheld, receipts, chatToNear };
  }

  type Owner = Awaited<ReturnType<typeof ownerClient>>;

  /** A lying node: shows `leaf` at `nonce` of `stack` and calls every chat request's nonce used. */
  const showsAtLeaf =
    (owner: Owner, stack: bigint | string, nonce: bigint, leaf: unknown) => (url: string) => {
      if (url.includes(`/v1/stacks/${stack}/leaves/${nonce}`)) return Response.json(leaf);
      return owner.chatToNear(url) ? refusal(409, "nonce_reused", "conflict_error") : undefined;
    };

  /** A bare `StackClient` on the owner's stack, holding `kept`, behind the owner's `lie`. */
  const directClient = (
    owner: Owner,
    stackId: bigint,
    kept: Pick<
      ConstructorParameters<typeof StackClient>[0],
      "receipts" | "refused" | "pending" | "signedEarlier"
    >,
  ) =>
    new StackClient({
      nodeUrl: owner.cheapest.url,
      account: owner.account,
      stackId,
      chainId: dev.ready.chainId,
      stackManager: dev.ready.contracts.StackManager!,
      nodeSigner: owner.key.address,
      ...kept,
      fetch: async (input, init) =>
        (await owner.lie.answer?.(urlOf(input), () => fetch(input, init))) ?? fetch(input, init),
    });

  /** The owner's first answer on a stack, then a request lost before the node: pending at nonce 1. */
  async function pendingAtOne(owner: Owner) {
    const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
    owner.lie.cut = true;
    await expect(owner.client.chat(ask(dev.ready.model, "Lost"))).rejects.toBeInstanceOf(
      NodeUnreachableError,
    );
    owner.lie.cut = false;
    return first;
  }

  const stackClosedAt = async (stackId: string) => {
    const ctx = {
      publicClient: createPublicClient({ transport: http(dev.ready.rpcUrl) }) as never,
      addresses: parseNetwork(dev.readyText).contracts,
    };
    return (await getStack(ctx, BigInt(stackId))).closedAt;
  };

  /** A leaf at `nonce` signed with the node's own key, for a request signed by `signer`, shown by a lying node. */
  async function forgedLeafAtOne(
    owner: Owner,
    stackId: bigint,
    signer: LocalAccount,
    total: (units: bigint) => bigint,
    answer = "an answer nobody got",
    nonce = 1n,
  ) {
    const domain = atomaDomain(dev.ready.chainId, dev.ready.contracts.StackManager!);
    const request = await signStackRequest(signer, domain, {
      stackId,
      body: ask(dev.ready.model, "never sent"),
      nonce,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
      maxUnits: 500n,
    });
    const fields: SignedResponseFields = {
      stackId,
      leafIndex: nonce,
      nonce,
      reqHash: request.reqHash,
      respHash: keccak256(toHex(answer)),
      units: 20n,
      cumulativeUnits: total(20n),
      seed: 1n,
    };
    const atoma = toReceipt(BigInt(owner.cheapest.id), fields, await signResponse(owner.key, domain, fields));
    const signed = request.headers;
    return {
      object: "stack.leaf",
      stack_id: stackId.toString(),
      nonce: nonce.toString(),
      atoma,
      request: {
        request_hash: request.reqHash,
        nonce: nonce.toString(),
        deadline: signed["x-atoma-deadline"],
        max_units: signed["x-atoma-max-units"],
        signature: signed["x-atoma-signature"],
      },
    };
  }

  it("adopts the leaf another client of the owner took at a pending nonce and goes on on the same stack", async () => {
    const owner = await ownerClient();
    try {
      const first = await pendingAtOne(owner);
      const stack = first.atoma.stack_id as string;
      // The owner's other client (the playground, a second `atoma chat`) knows nothing of the stack: it takes leaf 1.
      const other = new StackClient({
        nodeUrl: owner.cheapest.url,
        account: owner.account,
        stackId: BigInt(stack),
        chainId: dev.ready.chainId,
        stackManager: dev.ready.contracts.StackManager!,
        nodeSigner: owner.key.address,
      });
      const theirs = await other.chat(ask(dev.ready.model, "Elsewhere"));
      expect(theirs.fields.leafIndex).toBe(1n);
      // The pending request's resend is refused `nonce_reused`; the leaf shown there is the other client's.
      const third = await owner.client.chat(ask(dev.ready.model, "Third"));
      expect(third.atoma.stack_id).toBe(stack);
      expect(third.atoma.leaf_index).toBe("2");
      expect(third.verdict?.ok).toBe(true);
      expect(owner.aside).toEqual([]);
      expect(owner.withheld).toEqual([]);
      expect(await stackClosedAt(stack)).toBe(0n);
      const adopted = owner.receipts.find((r) => r.adopted);
      expect(adopted?.signature).toBe(theirs.atoma.signature);
      expect(
        owner.relay.requests.filter((r) => r.path === `/v1/stacks/${stack}/leaves/1?answer=0`),
      ).toHaveLength(1);
      // The next call stays on the stack, at leaf 3.
      expect((await owner.client.chat(ask(dev.ready.model, "Fourth"))).atoma.leaf_index).toBe("3");
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("takes a nonce_reused the node cannot show a leaf for as withholding: stack closed, node aside, another node", async () => {
    const owner = await ownerClient();
    try {
      const first = await pendingAtOne(owner);
      const stack = first.atoma.stack_id as string;
      // The node calls the nonce used without committing anything there; its leaf read answers 404 leaf_not_found.
      owner.lie.answer = (url) =>
        owner.chatToNear(url) ? refusal(409, "nonce_reused", "conflict_error") : undefined;
      const third = await owner.client.chat(ask(dev.ready.model, "Third"));
      expect(third.atoma.stack_id).not.toBe(stack);
      expect(third.atoma.node_id).not.toBe(owner.cheapest.id);
      expect(owner.aside.map((a) => a.nodeId)).toEqual([BigInt(owner.cheapest.id)]);
      expect(owner.withheld.map((w) => w.nonce)).toEqual([1n]);
      expect(await stackClosedAt(stack)).toBeGreaterThan(0n);
      expect(
        owner.relay.requests.filter((r) => r.path === `/v1/stacks/${stack}/leaves/1?answer=0`),
      ).toHaveLength(1);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("takes a leaf shown for a request the owner never signed as withholding", async () => {
    const owner = await ownerClient();
    try {
      const first = await pendingAtOne(owner);
      const stack = first.atoma.stack_id as string;
      const stranger = privateKeyToAccount(generatePrivateKey());
      const forged = await forgedLeafAtOne(owner, BigInt(stack), stranger, (units) => units);
      owner.lie.answer = showsAtLeaf(owner, stack, 1n, forged);
      const third = await owner.client.chat(ask(dev.ready.model, "Third"));
      expect(third.atoma.stack_id).not.toBe(stack);
      expect(owner.withheld.map((w) => w.nonce)).toEqual([1n]);
      expect(owner.receipts.some((r) => r.adopted)).toBe(false);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("keeps, as fraud evidence, a leaf shown whose running total breaks the receipt signed before it", async () => {
    const owner = await ownerClient();
    try {
      const first = await pendingAtOne(owner);
      const stack = first.atoma.stack_id as string;
      // Signed by the owner (another client's request, say) but its total forgets leaf 0's units.
      const forged = await forgedLeafAtOne(owner, BigInt(stack), owner.account, (units) => units);
      owner.lie.answer = showsAtLeaf(owner, stack, 1n, forged);
      await expect(owner.client.chat(ask(dev.ready.model, "Third"))).rejects.toBeInstanceOf(
        RunningTotalError,
      );
      const evidence = findKeptReceiptFraud(owner.receipts.filter((r) => r.fields.stackId === BigInt(stack)));
      expect(evidence?.kind).toBe("runningTotal");
      expect(owner.receipts.some((r) => r.adopted)).toBe(false);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("catches a node that shows another leaf at an index where it signed one before (equivocation)", async () => {
    const owner = await ownerClient();
    try {
      const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(first.atoma.stack_id as string);
      const [zero] = owner.receipts;
      // The node signed leaf 1 once (kept as evidence, `shown`: it moves no nonce), and shows another leaf 1 later.
      const total = (units: bigint) => zero!.fields.cumulativeUnits + units;
      const before = parseReceipt((await forgedLeafAtOne(owner, stackId, owner.account, total)).atoma);
      const after = await forgedLeafAtOne(owner, stackId, owner.account, total, "another answer");
      owner.lie.answer = showsAtLeaf(owner, stackId, 1n, after);
      const client = directClient(owner, stackId, {
        receipts: [zero!, { fields: before.fields, signature: before.signature, result: "0x", shown: true }],
      });
      const caught = await client.chat(ask(dev.ready.model, "Second")).catch((error: unknown) => error);
      expect(caught).toBeInstanceOf(LeafEquivocationError);
      expect((caught as LeafEquivocationError).previous?.signature).toBe(before.signature);
      expect(client.receipts.map((r) => r.signature)).toContain(after.atoma.signature);
      expect(client.receipts.some((r) => r.adopted)).toBe(false);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("writes an adopted receipt again when its first write failed (review of issue 13, second, MEDIUM-B)", async () => {
    const owner = await ownerClient();
    try {
      const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(first.atoma.stack_id as string);
      const [zero] = owner.receipts;
      // Another client of the owner took leaf 1; the node calls every later request's nonce used.
      const theirs = await forgedLeafAtOne(
        owner,
        stackId,
        owner.account,
        (u) => zero!.fields.cumulativeUnits + u,
      );
      owner.lie.answer = showsAtLeaf(owner, stackId, 1n, theirs);
      let failures = 1;
      const written: KeptReceipt[] = [];
      const client = new StackClient({
        nodeUrl: owner.cheapest.url,
        account: owner.account,
        stackId,
        chainId: dev.ready.chainId,
        stackManager: dev.ready.contracts.StackManager!,
        nodeSigner: owner.key.address,
        receipts: [zero!],
        onReceipt: async (receipt) => {
          if (receipt.adopted && failures-- > 0) throw new Error("the disk is full");
          written.push(receipt);
        },
        fetch: async (input, init) =>
          (await owner.lie.answer?.(urlOf(input), () => fetch(input, init))) ?? fetch(input, init),
      });
      await expect(client.chat(ask(dev.ready.model, "Second"))).rejects.toThrow("the disk is full");
      expect(written.some((r) => r.adopted)).toBe(false);
      // The pending request's resend meets the same leaf: adopted again, and written this time.
      await client.chat(ask(dev.ready.model, "Third")).catch(() => undefined);
      expect(written.filter((r) => r.adopted).map((r) => r.signature)).toEqual([theirs.atoma.signature]);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("does not adopt the leaf of the client's own request, committed and then called nonce_reused (review M4)", async () => {
    const owner = await ownerClient();
    try {
      const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
      const stack = first.atoma.stack_id as string;
      // The node commits the request at nonce 1 and drops its answer: pending here, its leaf on the node.
      owner.lie.answer = async (url, forward) => {
        if (!owner.chatToNear(url)) return undefined;
        await (await forward()).arrayBuffer();
        throw new TypeError("the connection broke after the node");
      };
      await expect(owner.client.chat(ask(dev.ready.model, "Dropped"))).rejects.toBeInstanceOf(
        NodeUnreachableError,
      );
      // Resent, the node calls the nonce used; the leaf it shows there is this client's own, never answered.
      owner.lie.answer = (url) =>
        owner.chatToNear(url) ? refusal(409, "nonce_reused", "conflict_error") : undefined;
      const third = await owner.client.chat(ask(dev.ready.model, "Third"));
      expect(third.atoma.stack_id).not.toBe(stack);
      expect(owner.withheld.map((w) => w.nonce)).toEqual([1n]);
      expect(owner.aside.map((a) => a.nodeId)).toEqual([BigInt(owner.cheapest.id)]);
      expect(owner.receipts.some((r) => r.adopted)).toBe(false);
      expect(
        owner.relay.requests.filter((r) => r.path === `/v1/stacks/${stack}/leaves/1?answer=0`),
      ).toHaveLength(1);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("never adopts, after a restart, the leaf of its own request the node refused outright and committed (review MED-3)", async () => {
    const owner = await ownerClient();
    try {
      const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(first.atoma.stack_id as string);
      const [zero] = owner.receipts;
      // The node commits the request at nonce 1 (it holds the owner's signature) and answers it 400, as refused.
      owner.lie.answer = async (url, forward) => {
        if (!owner.chatToNear(url)) return undefined;
        await (await forward()).arrayBuffer();
        return refusal(400, "invalid_request", "invalid_request_error");
      };
      const before = directClient(owner, stackId, { receipts: [zero!] });
      await expect(before.chat(ask(dev.ready.model, "Refused"))).rejects.toMatchObject({ status: 400 });
      expect(before.pending).toEqual([]);
      // The process exits; the next run starts from what the last one kept. The node is honest from now on: the
      // next request at nonce 1 is `nonce_reused`, and the leaf it shows there is the "refused" request's.
      owner.lie.answer = undefined;
      const after = directClient(owner, stackId, {
        receipts: [zero!],
        pending: before.pending,
        signedEarlier: before.signedHashes,
      });
      await expect(after.chat(ask(dev.ready.model, "Next run"))).rejects.toThrow();
      expect(after.receipts.some((r) => r.adopted)).toBe(false);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("takes a leaf read the node fails (429) as no verdict: the request stays pending, nobody is put aside (review M2)", async () => {
    const owner = await ownerClient();
    try {
      const first = await pendingAtOne(owner);
      const stack = first.atoma.stack_id as string;
      let reads = 0;
      owner.lie.answer = (url) => {
        if (url.includes(`/v1/stacks/${stack}/leaves/1`)) {
          reads++;
          return refusal(429, "leaf_reads_crowded", "rate_limit_error");
        }
        return owner.chatToNear(url) ? refusal(409, "nonce_reused", "conflict_error") : undefined;
      };
      await expect(owner.client.chat(ask(dev.ready.model, "Third"))).rejects.toBeInstanceOf(
        NodeUnreachableError,
      );
      expect(owner.withheld).toEqual([]);
      expect(owner.aside).toEqual([]);
      expect(await stackClosedAt(stack)).toBe(0n);
      // Read once, tried once more.
      expect(reads).toBe(2);
      // The node back to the truth: the pending request is served at leaf 1, the next at 2, on the same stack.
      owner.lie.answer = undefined;
      const fourth = await owner.client.chat(ask(dev.ready.model, "Fourth"));
      expect(fourth.atoma.stack_id).toBe(stack);
      expect(fourth.atoma.leaf_index).toBe("2");
    } finally {
      await owner.relay.close();
    }
  }, 300_000);

  it("refuses to adopt, past a refused leaf, a leaf whose running total exceeds the bound signed there (review M3)", async () => {
    const owner = await ownerClient();
    try {
      const first = await owner.client.chat(ask(dev.ready.model, "Hello"));
      const stackId = BigInt(first.atoma.stack_id as string);
      const [zero] = owner.receipts;
      const base = zero!.fields.cumulativeUnits;
      // Leaf 1 was refused (over its bound of 50): leaf 2 may hold at most base + 50 + its own units.
      const one = parseReceipt((await forgedLeafAtOne(owner, stackId, owner.account, (u) => base + u)).atoma);
      const inflated = await forgedLeafAtOne(
        owner,
        stackId,
        owner.account,
        (u) => base + 50n + u + 1000n,
        "x",
        2n,
      );
      owner.lie.answer = showsAtLeaf(owner, stackId, 2n, inflated);
      const client = directClient(owner, stackId, {
        receipts: [zero!, { fields: one.fields, signature: one.signature, result: "0x" }],
        refused: [{ signature: one.signature, maxUnits: 50n }],
      });
      await expect(client.chat(ask(dev.ready.model, "Second"))).rejects.toBeInstanceOf(RunningTotalError);
      expect(client.receipts.some((r) => r.adopted)).toBe(false);
      expect(client.receipts.find((r) => r.signature === inflated.atoma.signature)?.shown).toBe(true);
    } finally {
      await owner.relay.close();
    }
  }, 300_000);
});
