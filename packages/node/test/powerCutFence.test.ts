import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { type SignedStackRequest, StackClient, signStackRequest } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freezeForSettlement } from "../src/accounting/freezeForSettlement.js";
import { getStack } from "../src/accounting/stacks.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { currentBootId, RUNNING_MARKER } from "../src/db/sqlite/runningMarker.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { StallingFront } from "./harness/stallingFront.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/**
 * Issue 15: under `synchronous = normal` a leaf is synced just after its answer goes out, so a power cut can lose a
 * leaf whose receipt its owner holds (the stack's live row, synced while the engine ran, survives). The owner then
 * replays that nonce, or signs another request at it, after the node comes back: a second signed leaf at one
 * index would be an equivocation the owner can prove. The power cut is played on the node's real database: the
 * stack rewound to the state before the lost commit (leaf gone, reservation back, the stack live), and the running
 * marker left by a process of another boot.
 */
const root = mkdtempSync(join(tmpdir(), "atoma-power-cut-"));
const dataDir = join(root, "node");
const dbDir = join(dataDir, "db");
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let server: RegisteredNode;
let node: AtomaNode;
let owner: Awaited<ReturnType<StackNetwork["owner"]>>;
let taskId: bigint;
/** One port across restarts: the owner's clients keep the node's URL. */
let port: number;

const startNode = async () => {
  node = apiNode({ network, node: server, engine, model, dataDir, port }).node;
  await node.start();
};

beforeAll(async () => {
  network = await startStackNetwork();
  [server] = (await network.registerNodes(1)) as [RegisteredNode];
  taskId = await network.newTask([server]);
  await network.nextEpoch();
  ({ engine, model } = await startTinyEngine());
  owner = await network.owner();
  port = await StallingFront.freePort();
  await startNode();
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

async function newClient(): Promise<{ client: StackClient; stackId: bigint }> {
  const { stackId } = await network.buy(owner.ctx, taskId, 100_000n);
  await waitForStack(node, stackId);
  const client = new StackClient({
    nodeUrl: node.url,
    account: owner.account,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
    nodeId: server.nodeId,
    stackUnits: 100_000n,
  });
  return { client, stackId };
}

const post = (signed: Pick<SignedStackRequest, "headers" | "json">) =>
  fetch(new URL("/v1/chat/completions", node.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...signed.headers },
    body: signed.json,
  });

async function refusal(response: Response): Promise<{ status: number; code: string; signed: boolean }> {
  const body = (await response.json()) as { error?: { code: string }; atoma?: unknown };
  return { status: response.status, code: body.error?.code ?? "", signed: body.atoma !== undefined };
}

/**
 * What a power cut leaves when leaf `index`'s commit was lost: the state its reservation's transaction left (which
 * also made the stack live, synced before the receipt went out), and the marker of a process of another boot.
 */
async function loseLeaf(stackId: bigint, index: bigint, bootId: string): Promise<void> {
  const state = await openStateDatabase({ kind: "embedded", dir: dbDir });
  try {
    const [lost] = await state.db
      .deleteFrom("leaves")
      .where("stack_id", "=", stackId)
      .where("leaf_index", "=", index)
      .returning("units")
      .execute();
    const held = 4_096n;
    await state.db
      .updateTable("stacks")
      .set((eb) => ({
        leaf_count: index,
        units_used: eb("units_used", "-", lost!.units),
        units_reserved: held,
      }))
      .where("stack_id", "=", stackId)
      .execute();
    await state.db
      .insertInto("reservations")
      .values({ reservation_id: randomUUID(), stack_id: stackId, units: held })
      .execute();
  } finally {
    await state.close();
  }
  writeFileSync(join(dbDir, RUNNING_MARKER), JSON.stringify({ bootId, synchronous: "normal" }));
}

describe("a node back from a power cut that lost a leaf it had signed", () => {
  it("never signs a second leaf at that index: the stack closes and settles, a stack idle at the cut serves on", async () => {
    const cut = await newClient();
    const other = await newClient();
    await cut.client.chat(chatBody("zero"));
    await other.client.chat(chatBody("zero"));
    // A clean restart: every leaf so far is on disk, and no stack is live.
    await node.stop();
    await startNode();
    const lostRequest = await cut.client.sign(chatBody("the answer the power cut loses"));
    const lostReceipt = await cut.client.send("/v1/chat/completions", lostRequest);
    expect(lostReceipt.fields.leafIndex).toBe(1n);
    await node.stop();

    await loseLeaf(cut.stackId, 1n, "a-boot-before-the-power-cut");
    await startNode();
    expect(await getStack(node.context.db, cut.stackId)).toMatchObject({ leafCount: 1n, state: "settling" });

    // The owner replays the signed request whose leaf was lost, then signs another one at its nonce, then skips on.
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 60);
    const sign = (nonce: bigint, content: string) =>
      signStackRequest(owner.account, cut.client.domain, {
        stackId: cut.stackId,
        body: chatBody(content),
        nonce,
        deadline,
        maxUnits: 4_096n,
      });
    const fenced = { status: 409, code: "stack_closed", signed: false };
    expect(await refusal(await post(lostRequest))).toEqual(fenced);
    expect(await refusal(await post(await sign(1n, "a different answer at leaf 1")))).toEqual(fenced);
    expect(await refusal(await post(await sign(2n, "skipping the lost leaf")))).toEqual(fenced);
    // A stack idle at the cut (not live: every leaf of it was on disk) goes on.
    expect((await other.client.chat(chatBody("one"))).fields.leafIndex).toBe(1n);

    // It stays closed across a clean restart, and settles with the leaves the node has.
    await node.stop();
    await startNode();
    expect(await refusal(await post(lostRequest))).toEqual(fenced);
    const snapshot = await freezeForSettlement(node.context.db, cut.stackId);
    expect(snapshot.leaves.map((leaf) => leaf.leafIndex)).toEqual([0n]);
    expect(snapshot.stack.unitsReserved).toBe(0n);
  }, 120_000);

  it("after a crash on the same boot (nothing lost), a request left in flight is served afresh", async () => {
    const { client, stackId } = await newClient();
    await client.chat(chatBody("zero"));
    await node.stop();
    // A reservation the killed process left behind, and its marker of this very boot.
    const state = await openStateDatabase({ kind: "embedded", dir: dbDir });
    try {
      await state.db
        .updateTable("stacks")
        .set({ units_reserved: 10n })
        .where("stack_id", "=", stackId)
        .execute();
      await state.db
        .insertInto("reservations")
        .values({ reservation_id: randomUUID(), stack_id: stackId, units: 10n })
        .execute();
    } finally {
      await state.close();
    }
    writeFileSync(
      join(dbDir, RUNNING_MARKER),
      JSON.stringify({ bootId: currentBootId(), synchronous: "normal" }),
    );
    await startNode();
    expect((await client.chat(chatBody("one"))).fields.leafIndex).toBe(1n);
  }, 120_000);
});
