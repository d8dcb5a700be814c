import {
  atomaDomain,
  LEAF_READ_HEADERS,
  leafDenialToWire,
  requestHash,
  responseHash,
  STACK_HEADERS,
  signLeafDenial,
  signResponse,
  toReceipt,
} from "@atoma/core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { withholdingProven } from "./client/withheldReceipt.js";
import {
  ClientArgumentError,
  LeafUnreadableError,
  NodeRequestError,
  NodeUnreachableError,
  NonceGapError,
  ReceiptWithheldError,
  ResendInFlightError,
  UnitsOverSignedError,
} from "./errors.js";
import { StackClient } from "./StackClient.js";
import { signStackRequest } from "./signStackRequest.js";

const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const owner = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
const domain = atomaDomain(CHAIN_ID, STACK_MANAGER);

/** What the node does with the next request it receives. */
type Plan =
  | "honest"
  | "dropAfterCommit"
  | "claimReused"
  | "leafDenied"
  | "leafDeniedUnsigned"
  | "leafDeniedOtherNonce"
  | "refused"
  | { jumpTo: bigint }
  | { inflate: number };

/**
 * A node as `fetch`: one stack, leaves in nonce order, a resend of a committed request answered from its records
 * (as the real node's `answerResend`), another body at a used nonce refused `nonce_reused`, as scripted otherwise.
 */
function fakeNode(plans: Plan[]) {
  const leaves: { reqHash: string; answer: Record<string, unknown>; request: Record<string, string> }[] = [];
  const seen: { nonce: bigint; reqHash: string; body: Record<string, unknown> }[] = [];
  let total = 0n;
  const refuse = (code: string, next: bigint) =>
    Response.json(
      { error: { message: code, type: "x", code } },
      {
        status: 409,
        headers: { [STACK_HEADERS.nextNonce]: String(next) },
      },
    );
  /**
   * The node's answer to the owner's leaf read (`GET /v1/stacks/{id}/leaves/{nonce}`): by default, none stands, with
   * the node's signed denial of the request the read names (as the real node).
   */
  const node: { leafRead: (input: URL | string, init?: RequestInit) => Response | Promise<Response> } = {
    leafRead: async (input, init) => {
      const error = { message: "no leaf", type: "not_found_error", code: "leaf_not_found" };
      const named = new Headers(init?.headers).get(LEAF_READ_HEADERS.requestHash);
      const nonce = BigInt(String(input).split("/leaves/")[1]?.split("?")[0] ?? "0");
      if (named === null) return Response.json({ error }, { status: 404 });
      const fields = { stackId: 1n, nonce, reqHash: named as `0x${string}` };
      const denial = leafDenialToWire({ fields, signature: await signLeafDenial(nodeKey, domain, fields) });
      return Response.json({ error, denial }, { status: 404 });
    },
  };
  const fetcher = (async (input: URL | string, init?: RequestInit) => {
    if (init?.body === undefined) return node.leafRead(input, init);
    const headers = new Headers(init?.headers);
    const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
    const nonce = BigInt(headers.get(STACK_HEADERS.nonce) ?? "0");
    const reqHash = requestHash(body);
    seen.push({ nonce, reqHash, body });
    const stored = leaves[Number(nonce)];
    if (stored)
      return stored.reqHash === reqHash
        ? Response.json(stored.answer)
        : refuse("nonce_reused", BigInt(leaves.length));
    const plan = plans.shift() ?? "honest";
    if (typeof plan === "object" && "jumpTo" in plan) return refuse("nonce_out_of_order", plan.jumpTo);
    if (plan === "leafDeniedUnsigned") return refuse("leaf_denied", BigInt(leaves.length));
    if (plan === "refused")
      return Response.json(
        { error: { message: "no", type: "invalid_request_error", code: "bad" } },
        { status: 400 },
      );
    if (plan === "leafDenied" || plan === "leafDeniedOtherNonce") {
      // The real node's 409 carries its signed denial of that request at that nonce (here, for the other plan, one
      // it signed for the nonce after: true words, but not about the request refused).
      const fields = { stackId: 1n, nonce: plan === "leafDenied" ? nonce : nonce + 1n, reqHash };
      const denial = leafDenialToWire({ fields, signature: await signLeafDenial(nodeKey, domain, fields) });
      return Response.json(
        { error: { message: "leaf_denied", type: "conflict_error", code: "leaf_denied" }, denial },
        { status: 409, headers: { [STACK_HEADERS.nextNonce]: String(leaves.length) } },
      );
    }
    if (nonce !== BigInt(leaves.length)) return refuse("nonce_out_of_order", BigInt(leaves.length));
    const prompt = typeof plan === "object" ? plan.inflate : 3;
    const response = {
      id: "chatcmpl-fake",
      object: "chat.completion",
      created: 1,
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: "fake" }, finish_reason: "stop" }],
      usage: { prompt_tokens: prompt, completion_tokens: 2, total_tokens: prompt + 2 },
    };
    const units = BigInt(prompt + 2);
    total += units;
    const fields = {
      stackId: 1n,
      leafIndex: nonce,
      nonce,
      reqHash,
      respHash: responseHash(response),
      units,
      cumulativeUnits: total,
      seed: 1n,
    };
    const atoma = toReceipt(1n, fields, await signResponse(nodeKey, domain, fields));
    const request = {
      nonce: String(nonce),
      deadline: headers.get(STACK_HEADERS.deadline) ?? "",
      max_units: headers.get(STACK_HEADERS.maxUnits) ?? "",
      signature: headers.get(STACK_HEADERS.signature) ?? "",
    };
    leaves.push({ reqHash, answer: { ...response, atoma }, request });
    if (plan === "dropAfterCommit") throw new TypeError("fetch failed: the connection broke");
    if (plan === "claimReused") return refuse("nonce_reused", BigInt(leaves.length));
    return Response.json({ ...response, atoma });
  }) as typeof fetch;
  /** The leaf read's answer for the leaf at `index`: its receipt and the owner's signed request. */
  const show = (index: number) =>
    Response.json({ atoma: leaves[index]!.answer.atoma, request: leaves[index]!.request });
  return { fetcher, seen, leaves, node, show };
}

const clientOf = (fetcher: typeof fetch, firstNonce?: bigint) =>
  new StackClient({
    nodeUrl: "http://node.test",
    account: owner,
    stackId: 1n,
    chainId: CHAIN_ID,
    stackManager: STACK_MANAGER,
    nodeSigner: nodeKey.address,
    nodeId: 1n,
    stackUnits: 100_000n,
    firstNonce,
    resends: 0,
    fetch: fetcher,
  });
const chat = (content: string) => ({ model: "m", messages: [{ role: "user", content }], max_tokens: 4 });

describe("StackClient's nonces against a node that bends them", () => {
  // Review of 9bfdbf2, MEDIUM-3: a client that knows nothing of the stack took the node's word that its nonce was used
  // and signed the same prompt at the next: the node could commit both leaves and bill the owner twice.
  it("a client that knows nothing of the stack follows the nonce named only past another request's leaf shown there", async () => {
    for (const shows of ["no leaf", "this request's leaf"]) {
      // The node commits the request at leaf 0 and calls nonce 0 used.
      const node = fakeNode(["claimReused"]);
      if (shows !== "no leaf") node.node.leafRead = () => node.show(0);
      const caught = await clientOf(node.fetcher)
        .chat(chat("one"))
        .catch((error: unknown) => error);
      expect(caught, shows).toBeInstanceOf(NonceGapError);
      expect(node.seen.map((s) => s.nonce)).toEqual([0n]);
      expect(node.leaves).toHaveLength(1);
    }
    // Sent forward past another client's leaves, then named a nonce below (review of the merge, MEDIUM-1): a prompt
    // it signed higher up could be committed there too, so it never goes back.
    const plans: Plan[] = [];
    const jumped = fakeNode(plans);
    const other = clientOf(jumped.fetcher, 0n);
    for (let i = 0; i < 7; i++) await other.chat(chat(`elsewhere ${i}`));
    plans.push({ jumpTo: 5n }, { jumpTo: 5n });
    jumped.node.leafRead = () => jumped.show(0);
    const blank = clientOf(jumped.fetcher);
    const seenBefore = jumped.seen.length;
    await expect(blank.chat(chat("P"))).rejects.toThrow();
    const back = await blank.chat(chat("P")).catch((error: unknown) => error);
    expect(back).toBeInstanceOf(NonceGapError);
    expect(jumped.seen.slice(seenBefore).map((s) => s.nonce)).toEqual([0n, 7n, 7n]);
    // Another client of the owner took leaf 0, and the node shows it: the request goes to leaf 1.
    const node = fakeNode([]);
    await clientOf(node.fetcher, 0n).chat(chat("elsewhere"));
    node.node.leafRead = () => node.show(0);
    const answer = await clientOf(node.fetcher).chat(chat("one"));
    expect(answer.fields.leafIndex).toBe(1n);
  });

  // Review 5 MEDIUM-3: a request the node committed and never answered was left behind, and its nonce signed again
  // for the next body: the node held two owner signatures for one leaf and could show the larger bound.
  it("resends a request left without a receipt before signing the next nonce, never its nonce for another body", async () => {
    const node = fakeNode(["dropAfterCommit"]);
    const client = clientOf(node.fetcher, 0n);
    await expect(client.chat(chat("one"))).rejects.toThrow(NodeUnreachableError);
    await expect(client.sign(chat("other"))).rejects.toThrow(ClientArgumentError);
    const second = await client.chat(chat("two"));
    expect(second.fields.leafIndex).toBe(1n);
    expect(node.seen.map((s) => s.nonce)).toEqual([0n, 0n, 1n]);
    expect(node.seen[1]!.reqHash).toBe(node.seen[0]!.reqHash);
    expect(client.receipts.map((r) => r.fields.leafIndex)).toEqual([0n, 1n]);
  });

  // Review 5 HIGH-1: the client followed any nonce the node named ahead, and signed the request again there.
  it("takes a nonce the node denied this very request at with a one-character, one-token filler, not its prompt", async () => {
    const node = fakeNode([]);
    // As `chat` sends it (stream false): the request the node denied at nonce 0 (a Regenerate of a stopped stream).
    const long = { ...chat("a long prompt ".repeat(500)), temperature: 0.3, max_tokens: 200, stream: false };
    const client = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      stackUnits: 100_000n,
      firstNonce: 0n,
      resends: 0,
      fetch: node.fetcher,
      deniedAt: (nonce, hash) => nonce === 0n && hash === requestHash(long).toLowerCase(),
    });
    await client.chat(long);
    expect(node.seen.map((s) => s.nonce)).toEqual([0n, 1n]);
    expect(node.seen[1]!.reqHash).toBe(requestHash(long));
    // The filler at the denied nonce: the model, one character, one token (before: the whole prompt again).
    expect(node.seen[0]!.body).toEqual({
      model: "m",
      messages: [{ role: "user", content: "." }],
      max_tokens: 1,
      stream: false,
    });
    expect(node.leaves).toHaveLength(2);
    // Its signed bound (what the gateway reserves for it): the template margin and a few bytes, not the prompt.
    expect(BigInt(node.leaves[0]?.request.max_units ?? "0")).toBeLessThan(1_200n);
  });

  it("on a node's leaf_denied for a request it denied unseen by this client, fills that nonce and sends it past", async () => {
    const node = fakeNode(["leafDenied"]);
    const client = clientOf(node.fetcher, 0n);
    const body = { ...chat("denied through another gateway"), stream: false };
    const answered = await client.chat(body);
    expect(answered.fields.leafIndex).toBe(1n);
    expect(node.seen.map((s) => [s.nonce, s.reqHash === requestHash(body)])).toEqual([
      [0n, true],
      [0n, false],
      [1n, true],
    ]);
    expect(node.seen[1]!.body.messages).toEqual([{ role: "user", content: "." }]);
  });

  // Review of the signed leaf denials, M1: the node's 409 leaf_denied carried a signed denial the client checked and
  // paid a filler on, then dropped: a node that refused the filler and committed the denied request there anyway (the
  // owner's signature held) left the gateway no signed word to prove it with. The denial goes with the freed nonce.
  it("hands the node's signed denial to onForgotten when it refuses the filler that follows it", async () => {
    const node = fakeNode(["leafDenied", "refused"]);
    const forgotten: {
      nonce: bigint;
      reqHash: string;
      denied: string | undefined;
      signature: string | undefined;
    }[] = [];
    const client = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      stackUnits: 100_000n,
      firstNonce: 0n,
      resends: 0,
      fetch: node.fetcher,
      onForgotten: (pending, denial) => {
        forgotten.push({
          nonce: pending.signed.nonce,
          reqHash: pending.signed.reqHash.toLowerCase(),
          denied: denial?.fields.reqHash.toLowerCase(),
          signature: denial?.signature,
        });
      },
    });
    const body = { ...chat("denied, then its filler refused"), stream: false };
    await expect(client.chat(body)).rejects.toThrow(NodeRequestError);
    const denied = requestHash(body).toLowerCase();
    const own = forgotten.find((f) => f.reqHash === denied);
    expect(own).toMatchObject({ nonce: 0n, denied });
    expect(own?.signature).toMatch(/^0x[0-9a-f]{130}$/);
    // The filler, refused outright with no denial, is freed with none.
    expect(forgotten.filter((f) => f.reqHash !== denied).map((f) => f.signature)).toEqual([undefined]);
  });

  // Review of the signed leaf denials, L1: the filler was always the same body, so a node that denied it at that nonce
  // too failed the request for ever. Another filler takes the nonce.
  it("takes the nonce with another filler when the node denied the first filler there too", async () => {
    const node = fakeNode(["leafDenied", "leafDenied"]);
    const client = clientOf(node.fetcher, 0n);
    const body = { ...chat("denied, and its filler too"), stream: false };
    const answered = await client.chat(body);
    expect(answered.fields.leafIndex).toBe(1n);
    expect(node.seen.map((s) => s.nonce)).toEqual([0n, 0n, 0n, 1n]);
    const hashes = node.seen.map((s) => s.reqHash);
    expect(hashes[3]).toBe(requestHash(body));
    expect(new Set(hashes.slice(0, 3)).size).toBe(3);
    expect(node.seen[2]!.body.max_tokens).toBe(1);
  });

  // Follow-up a of issue 12: a bare 409 leaf_denied (any relay can write one), or a denial the node signed for another
  // nonce, is no word of the node's about this request: acting on it, the client paid a filler request each time.
  it.each(["leafDeniedUnsigned", "leafDeniedOtherNonce"] as const)(
    "pays no filler on a %s leaf_denied: the refusal is thrown as any other",
    async (plan) => {
      const node = fakeNode([plan]);
      const client = clientOf(node.fetcher, 0n);
      const body = { ...chat("refused by a relay"), stream: false };
      const refused = await client.chat(body).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(NodeRequestError);
      expect((refused as NodeRequestError).code).toBe("leaf_denied");
      expect(node.seen.map((s) => s.nonce)).toEqual([0n]);
      // The nonce was refused outright (freed): the next request takes it.
      expect((await client.chat(chat("next"))).fields.leafIndex).toBe(0n);
    },
  );

  it("refuses a node that names a nonce ahead when it knows its stack, signing nothing there", async () => {
    const node = fakeNode(["honest", { jumpTo: 6n }]);
    const client = clientOf(node.fetcher, 0n);
    await client.chat(chat("one"));
    await expect(client.chat(chat("two"))).rejects.toThrow(NonceGapError);
    expect(node.seen.map((s) => s.nonce)).toEqual([0n, 1n]);
  });

  // Review 5 HIGH-2: a refused receipt was kept as the client's last, its running total taken as the stack's.
  it("counts a refused receipt only up to its signed bound", async () => {
    const node = fakeNode(["honest", { inflate: 100 }]);
    const client = clientOf(node.fetcher, 0n);
    const first = await client.chat(chat("one"));
    await expect(client.chat(chat("hi"), { maxUnits: 50n })).rejects.toThrow(UnitsOverSignedError);
    expect(client.receipts).toHaveLength(2);
    expect(client.unitsHeld).toBe(first.fields.cumulativeUnits + 50n);
  });
});

// Review sdk L-1: a receipt kept only as evidence of a lie (a refusal's "last leaf" at leaf 2^40) moved the next nonce
// past it: every later request was signed at 2^40+1, and refused as a gap, for good.
describe("StackClient and a receipt kept as evidence of a lie", () => {
  it("never moves the next nonce for a shown receipt, in this client or one built from the kept receipts", async () => {
    const node = fakeNode([]);
    const kept: import("./StackClient.js").KeptReceipt[] = [];
    const client = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      firstNonce: 0n,
      resends: 0,
      fetch: node.fetcher,
      onReceipt: (receipt) => kept.push(receipt),
    });
    await client.chat(chat("one"));
    const far = 2n ** 40n;
    const fields = { ...client.receipts[0]!.fields, leafIndex: far, nonce: far, cumulativeUnits: 99_999n };
    client.keepShown({ fields, signature: await signResponse(nodeKey, domain, fields) }, "a lie");
    expect(client.nextNonce).toBe(1n);
    expect(kept.map((k) => k.shown === true)).toEqual([false, true]);
    const again = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      receipts: kept,
      refused: [{ signature: kept[1]!.signature, maxUnits: 0n }],
      resends: 0,
      fetch: node.fetcher,
    });
    expect(again.nextNonce).toBe(1n);
    const second = await again.chat(chat("two"));
    expect(second.fields.leafIndex).toBe(1n);
  });
});

// Review sdk L-4: a gateway session was given the nonce of a sealed request left pending past its deadline. The
// node had committed that one: the session's request was refused `nonce_reused`, then left pending in its place, so
// the stack failed every later session (the old leaf's receipt never fetched).
describe("StackClient.sendPresigned at a nonce another request is pending at", () => {
  it("resends the older request first (its receipt takes the leaf) and never leaves the refused one pending", async () => {
    const node = fakeNode(["honest", "dropAfterCommit"]);
    const client = clientOf(node.fetcher, 0n);
    await client.chat(chat("one"));
    await expect(client.chat(chat("old"))).rejects.toThrow(NodeUnreachableError);
    expect(client.pending.map((p) => p.signed.nonce)).toEqual([1n]);
    const fresh = await signStackRequest(owner, client.domain, {
      stackId: 1n,
      body: chat("new"),
      nonce: 1n,
      deadline: client.deadline(),
      maxUnits: 1_000n,
    });
    await expect(client.sendPresigned("/v1/chat/completions", fresh)).rejects.toThrow(NonceGapError);
    expect(client.pending).toEqual([]);
    expect(client.receipts.map((r) => r.fields.leafIndex)).toEqual([0n, 1n]);
    expect(client.receipts[1]!.fields.reqHash).toBe(node.seen[1]!.reqHash);
    expect(client.nextNonce).toBe(2n);
  });
});

// Issue 13's last review, LOW: any 4xx but 401/408/409/429 on a leaf read was taken as the node's word that no leaf
// of another client stands there, and a leaf read that kept failing never escalated.
describe("StackClient's leaf reads", () => {
  /** A client at leaf 1 whose request there the node committed and dropped: pending, its resend `nonce_reused`. */
  async function pendingAtOne(escalation?: { failures: number; afterMs: number }) {
    const node = fakeNode(["honest", "dropAfterCommit"]);
    const unread: { nonce: bigint; failures: number; since: number }[] = [];
    const client = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      stackUnits: 100_000n,
      firstNonce: 0n,
      resends: 0,
      fetch: node.fetcher,
      leafReadEscalation: escalation,
      onUnreadLeaf: (leaf) => unread.push(leaf),
    });
    await client.chat(chat("one"));
    await expect(client.chat(chat("dropped"))).rejects.toThrow(NodeUnreachableError);
    // Its resend is refused as another body's would be: the leaf the node holds is for another request.
    node.leaves[1]!.reqHash = "0xother";
    return { node, client, unread };
  }

  it("takes only a 404 leaf_not_found as the node's word; a bare 404 or a 403 is no verdict", async () => {
    for (const answer of [
      () => new Response("Not Found", { status: 404 }),
      () => Response.json({ error: { message: "no", type: "x", code: "forbidden" } }, { status: 403 }),
      () => Response.json({ error: { message: "no", type: "x", code: "bad_request" } }, { status: 400 }),
    ]) {
      const { node, client, unread } = await pendingAtOne();
      node.node.leafRead = answer;
      const caught = await client.chat(chat("next")).catch((error: unknown) => error);
      // Before, a ReceiptWithheldError: the stack closed and its node put aside on a proxy's 404.
      expect(caught).toBeInstanceOf(NodeUnreachableError);
      expect(client.pending.map((p) => p.signed.nonce)).toEqual([1n]);
      expect(unread).toEqual([{ nonce: 1n, failures: 1, since: expect.any(Number) }]);
      // The node's explicit word: no leaf of another client there, so its nonce_reused is a withheld receipt.
      node.node.leafRead = () =>
        Response.json({ error: { message: "none", type: "x", code: "leaf_not_found" } }, { status: 404 });
      const withheld = await client.chat(chat("next")).catch((error: unknown) => error);
      expect(withheld).toBeInstanceOf(ReceiptWithheldError);
      expect(withheld).not.toBeInstanceOf(LeafUnreadableError);
      expect(unread.at(-1)).toMatchObject({ nonce: 1n, failures: 0 });
    }
  });

  it("escalates a leaf that stays unreadable, over runs, to LeafUnreadableError", async () => {
    const { node, client, unread } = await pendingAtOne({ failures: 3, afterMs: 1_000 });
    node.node.leafRead = () => new Response("busy", { status: 503 });
    await expect(client.chat(chat("next"))).rejects.toThrow(NodeUnreachableError);
    // A restart: the next run starts from the failures kept.
    const again = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      receipts: client.receipts,
      pending: client.pending,
      signedEarlier: client.signedHashes,
      unreadLeaves: [unread.at(-1)!],
      resends: 0,
      fetch: node.fetcher,
      leafReadEscalation: { failures: 3, afterMs: 1_000 },
      onUnreadLeaf: (leaf) => unread.push(leaf),
    });
    await expect(again.chat(chat("next"))).rejects.toThrow(NodeUnreachableError);
    expect(unread.at(-1)).toMatchObject({ failures: 2 });
    // Three failures, but not yet over the time given: still no verdict.
    await expect(again.chat(chat("next"))).rejects.not.toBeInstanceOf(LeafUnreadableError);
    await new Promise((done) => setTimeout(done, 1_050));
    const caught = await again.chat(chat("next")).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(LeafUnreadableError);
    expect(caught).toMatchObject({ nonce: 1n, failures: 4 });
    expect(withholdingProven(caught as LeafUnreadableError)).toBe(true);
    expect((caught as LeafUnreadableError).request?.signed.nonce).toBe(1n);
  });
});

// Review of h-gw, HIGH-2: a pending request resent by a later call (the cut mark lost to a restart, say) met the
// node's 409 `request_in_flight` on its first attempt there and was dropped as refused: its nonce given to the next
// request, which collided with it (a refusal blamed on the node, or `nonce_reused` taken for a gap).
describe("StackClient's resend of a pending request the node still has in flight", () => {
  it("keeps the request pending and signs nothing at its nonce until the node has answered it", async () => {
    const node = fakeNode(["honest", "dropAfterCommit"]);
    let inFlight = false;
    /** The request hashes POSTed while the node was still at nonce 1's request. */
    const refused: string[] = [];
    const fetcher = (async (input: URL | string, init?: RequestInit) => {
      if (!inFlight || init?.body === undefined) return node.fetcher(input, init);
      refused.push(requestHash(JSON.parse(String(init.body)) as Record<string, unknown>));
      return Response.json(
        { error: { message: "in flight", type: "conflict_error", code: "request_in_flight" } },
        { status: 409 },
      );
    }) as typeof fetch;
    const client = clientOf(fetcher, 0n);
    await client.chat(chat("one"));
    await expect(client.chat(chat("dropped"))).rejects.toThrow(NodeUnreachableError);
    inFlight = true;
    await expect(client.chat(chat("next"))).rejects.toThrow(ResendInFlightError);
    expect(client.pending.map((p) => p.signed.nonce)).toEqual([1n]);
    // Only the pending request was resent: nothing else signed at its nonce.
    expect(new Set(refused)).toEqual(new Set([node.leaves[1]!.reqHash]));
    // The node has answered it: the resend gets its committed answer, and the next request the nonce after.
    inFlight = false;
    const next = await client.chat(chat("next"));
    expect(next.fields.leafIndex).toBe(2n);
    const atOne = node.seen.filter((r) => r.nonce === 1n).map((r) => r.reqHash);
    expect(new Set(atOne)).toEqual(new Set([node.leaves[1]!.reqHash]));
  });
});

// Review 2 of h-gw, HIGH-A: a pending request whose leaf read says the node committed nothing is dropped and its nonce
// signed afresh for the next request, maybe with the same body. Whatever its caller held for it must be settled then:
// a later receipt at that nonce is the new request's. The caller hears of it before anything is sent there.
describe("StackClient dropping a pending request the node committed nothing for", () => {
  it("calls onForgotten with it, and waits for that write before the next request reaches the node", async () => {
    const node = fakeNode([]);
    const events: string[] = [];
    const fetcher = (async (input: URL | string, init?: RequestInit) => {
      if (init?.body !== undefined) events.push("sent");
      return node.fetcher(input, init);
    }) as typeof fetch;
    const stopped = await signStackRequest(owner, domain, {
      stackId: 1n,
      body: { ...chat("stopped"), stream: true },
      nonce: 0n,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 60),
      maxUnits: 1_000n,
    });
    const client = new StackClient({
      nodeUrl: "http://node.test",
      account: owner,
      stackId: 1n,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      nodeSigner: nodeKey.address,
      nodeId: 1n,
      stackUnits: 100_000n,
      firstNonce: 1n,
      resends: 0,
      fetch: fetcher,
      pending: [{ path: "/v1/chat/completions", signed: stopped }],
      readLeafFirst: () => true,
      onForgotten: async (pending) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        events.push(`forgotten ${pending.signed.nonce}:${pending.signed.reqHash}`);
      },
    });
    const next = await client.chat(chat("stopped"));
    expect(next.fields.leafIndex).toBe(0n);
    expect(events).toEqual([`forgotten 0:${stopped.reqHash}`, "sent"]);
    expect(client.pending).toEqual([]);
  });
});
