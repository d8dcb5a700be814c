import { atomaDomain, requestHash, responseHash, STACK_HEADERS, signResponse, toReceipt } from "@atoma/core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ClientArgumentError, NodeUnreachableError, NonceGapError, UnitsOverSignedError } from "./errors.js";
import { StackClient } from "./StackClient.js";
import { signStackRequest } from "./signStackRequest.js";

const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const owner = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
const domain = atomaDomain(CHAIN_ID, STACK_MANAGER);

/** What the node does with the next request it receives. */
type Plan = "honest" | "dropAfterCommit" | { jumpTo: bigint } | { inflate: number };

/**
 * A node as `fetch`: one stack, leaves in nonce order, a resend of a committed request answered from its records
 * (as the real node's `answerResend`), another body at a used nonce refused `nonce_reused`, as scripted otherwise.
 */
function fakeNode(plans: Plan[]) {
  const leaves: { reqHash: string; answer: Record<string, unknown> }[] = [];
  const seen: { nonce: bigint; reqHash: string }[] = [];
  let total = 0n;
  const refuse = (code: string, next: bigint) =>
    Response.json(
      { error: { message: code, type: "x", code } },
      {
        status: 409,
        headers: { [STACK_HEADERS.nextNonce]: String(next) },
      },
    );
  const fetcher = (async (_input: URL | string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
    const nonce = BigInt(headers.get(STACK_HEADERS.nonce) ?? "0");
    const reqHash = requestHash(body);
    seen.push({ nonce, reqHash });
    const stored = leaves[Number(nonce)];
    if (stored)
      return stored.reqHash === reqHash
        ? Response.json(stored.answer)
        : refuse("nonce_reused", BigInt(leaves.length));
    const plan = plans.shift() ?? "honest";
    if (typeof plan === "object" && "jumpTo" in plan) return refuse("nonce_out_of_order", plan.jumpTo);
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
    leaves.push({ reqHash, answer: { ...response, atoma } });
    if (plan === "dropAfterCommit") throw new TypeError("fetch failed: the connection broke");
    return Response.json({ ...response, atoma });
  }) as typeof fetch;
  return { fetcher, seen, leaves };
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
