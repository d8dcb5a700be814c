import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { proveReceiptFraud } from "@atoma/chain";
import {
  findReceiptFraud,
  parseReceipt,
  type SignedResponseFields,
  STACK_HEADERS,
  signResponse,
  toReceipt,
} from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { RunningTotalError, StackClient, signStackRequest, UnitsMismatchError } from "@atoma/sdk";
import type { LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getStack } from "../src/accounting/stacks.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/**
 * Issue 10, items 2 and 10: the owner's client against a real node. A stack takes its k-th request as leaf k;
 * the client checks every receipt's units against the usage it received and its running total against the
 * previous receipt, keeps what the node signed, and the kept receipts prove a node that lied on-chain.
 */
const root = mkdtempSync(join(tmpdir(), "atoma-receipts-"));
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let server: RegisteredNode;
let node: AtomaNode;
let owner: { account: LocalAccount; ctx: Parameters<StackNetwork["buy"]>[0] };
let taskId: bigint;

beforeAll(async () => {
  network = await startStackNetwork();
  [server] = (await network.registerNodes(1)) as [RegisteredNode];
  taskId = await network.newTask([server]);
  await network.nextEpoch();
  ({ engine, model } = await startTinyEngine());
  node = apiNode({ network, node: server, engine, model, dataDir: join(root, "node") }).node;
  await node.start();
  owner = await network.owner();
}, 120_000);
afterAll(async () => {
  await node?.stop();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

const chatBody = (content: string) => ({
  model: model.id,
  messages: [{ role: "user", content }],
  max_tokens: 6,
});

async function newStack(units = 100_000n) {
  const { stackId } = await network.buy(owner.ctx, taskId, units);
  await waitForStack(node, stackId);
  return stackId;
}

const clientFor = (stackId: bigint, overrides: Partial<ConstructorParameters<typeof StackClient>[0]> = {}) =>
  new StackClient({
    nodeUrl: node.url,
    account: owner.account,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
    nodeId: server.nodeId,
    stackUnits: 100_000n,
    ...overrides,
  });

/**
 * The real node's answers, with the receipt's fields changed by `edit` and signed again with the node's own key:
 * what a node that lies about units would send.
 */
function lyingNode(edit: (fields: SignedResponseFields) => SignedResponseFields | undefined): typeof fetch {
  const key = privateKeyToAccount(server.signerKey);
  return async (input, init) => {
    const answer = await fetch(input, init);
    if (!answer.ok) return answer;
    const body = (await answer.json()) as Record<string, unknown>;
    const receipt = parseReceipt(body.atoma);
    const fields = edit(receipt.fields) ?? receipt.fields;
    const signature = await signResponse(key, network.domain, fields);
    const atoma = toReceipt(BigInt(receipt.node_id), fields, signature);
    return new Response(JSON.stringify({ ...body, atoma }), {
      headers: { "content-type": "application/json" },
    });
  };
}

describe("receipts on a real node", () => {
  it("takes the k-th request as leaf k; a client that starts elsewhere follows the nonce the node names", async () => {
    const stackId = await newStack();
    const first = clientFor(stackId);
    const a = await first.chat(chatBody("one"));
    const b = await first.chat(chatBody("two"));
    expect([a.fields.leafIndex, a.fields.nonce, b.fields.leafIndex, b.fields.nonce]).toEqual([
      0n,
      0n,
      1n,
      1n,
    ]);
    expect(b.fields.cumulativeUnits).toBe(a.fields.units + b.fields.units);
    // A client on another machine, which knows nothing of the stack: the node names nonce 2 and it follows.
    const elsewhere = clientFor(stackId);
    const c = await elsewhere.chat(chatBody("three"));
    expect([c.fields.leafIndex, c.fields.nonce]).toEqual([2n, 2n]);
    // A client holding the receipts continues the running total from them.
    const resumed = clientFor(stackId, { receipts: [...first.receipts, ...elsewhere.receipts] });
    expect(resumed.nextNonce).toBe(3n);
    await resumed.chat(chatBody("four"));
    expect((await getStack(node.context.db, stackId))?.leafCount).toBe(4n);
  });

  it("refuses a nonce that is not the stack's next (409, naming the next), and a second request in flight", async () => {
    const stackId = await newStack();
    const client = clientFor(stackId);
    await client.chat(chatBody("zero"));
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 60);
    const sign = (nonce: bigint, body: Record<string, unknown>) =>
      signStackRequest(owner.account, client.domain, { stackId, body, nonce, deadline, maxUnits: 4_096n });
    const post = (signed: Awaited<ReturnType<typeof sign>>, signal?: AbortSignal) =>
      fetch(new URL("/v1/chat/completions", node.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
        ...(signal ? { signal } : {}),
      });
    const ahead = await post(await sign(5n, chatBody("skipping ahead")));
    expect(ahead.status).toBe(409);
    expect(ahead.headers.get(STACK_HEADERS.nextNonce)).toBe("1");
    expect(((await ahead.json()) as { error: { code: string } }).error.code).toBe("nonce_out_of_order");
    const copy = await post(await sign(0n, chatBody("a second bill for leaf 0")));
    expect(copy.status).toBe(409);
    expect(((await copy.json()) as { error: { code: string } }).error.code).toBe("nonce_reused");

    const controller = new AbortController();
    const long = { ...chatBody("go on"), max_tokens: 400, ignore_eos: true, stream: true };
    const streaming = await post(await sign(1n, long), controller.signal);
    const reader = streaming.body!.getReader();
    await reader.read();
    const meanwhile = await post(await sign(1n, chatBody("me too")));
    expect(meanwhile.status).toBe(409);
    expect(((await meanwhile.json()) as { error: { code: string } }).error.code).toBe("request_in_flight");
    controller.abort();
  });

  it("SDK refuses a running total that jumps, keeps both receipts, and they prove it", async () => {
    const stackId = await newStack();
    let calls = 0;
    const client = clientFor(stackId, {
      fetch: lyingNode((fields) =>
        ++calls === 2 ? { ...fields, cumulativeUnits: fields.cumulativeUnits + 90_000n } : undefined,
      ),
    });
    await client.chat(chatBody("honest first"));
    await expect(client.chat(chatBody("then the jump"))).rejects.toBeInstanceOf(RunningTotalError);
    expect(client.receipts).toHaveLength(2);
    expect(findReceiptFraud(client.receipts, 100_000n)).toMatchObject({ kind: "runningTotal" });
  });

  it("SDK refuses units that are not the answer's usage from the first answer on, and the receipt proves it on-chain", async () => {
    const stackId = await newStack();
    const client = clientFor(stackId, {
      fetch: lyingNode((fields) => ({ ...fields, units: 33_334n, cumulativeUnits: 33_334n })),
    });
    const error = await client.chat(chatBody("bill me the stack")).catch((e) => e);
    expect(error).toBeInstanceOf(UnitsMismatchError);
    const [kept] = client.receipts;
    expect(kept!.fields.units).toBe(33_334n);
    expect((error as UnitsMismatchError).usageUnits).toBeLessThan(100n);
    const proven = await proveReceiptFraud(owner.ctx, {
      kind: "units",
      receipt: kept!,
      result: kept!.result,
    });
    expect(proven).toMatchObject({ stackId, nodeId: server.nodeId });
    expect(proven.refunded).toBeGreaterThan(0n);
  });
});
