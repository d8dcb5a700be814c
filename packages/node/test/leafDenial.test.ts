import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChainContext, closeStack } from "@atoma/chain";
import { type Hash, requestHash, verifyLeafDenial } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import {
  NodeDeniedLeafError,
  NodeRequestError,
  readStackLeaf,
  type StackClient,
  signStackRequest,
} from "@atoma/sdk";
import type { LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freezeForSettlement } from "../src/accounting/freezeForSettlement.js";
import { getStack } from "../src/accounting/stacks.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import { StackBusyError } from "../src/errors.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { stackClientFor } from "./helpers/stackClientFor.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/**
 * Issue 12, denied leaves, the node's side: a leaf read that names its request and finds no leaf gets the node's
 * signed `AtomaLeafDenial` ("no leaf for request H at nonce N, and none will be committed"), kept in its database, so
 * the node never commits H at N, not even after a restart; a request in flight there gets 409, never a denial.
 */
describe("the node's signed leaf denial (a real node, anvil, the tiny engine)", () => {
  const root = mkdtempSync(join(tmpdir(), "atoma-leaf-denial-"));
  let network: StackNetwork;
  let engine: EmbeddedEngine;
  let model: TinyModelFile;
  let server: RegisteredNode;
  let node: AtomaNode;
  let owner: LocalAccount;
  let stackId: bigint;
  let client: StackClient;
  let buyerCtx: ChainContext;

  const startNode = async () => {
    node = apiNode({ network, node: server, engine, model, dataDir: join(root, "node") }).node;
    await node.start();
    client = stackClientFor(network, server, node, owner, stackId);
  };

  beforeAll(async () => {
    network = await startStackNetwork();
    [server] = (await network.registerNodes(1)) as [RegisteredNode];
    const taskId = await network.newTask([server]);
    await network.nextEpoch();
    ({ engine, model } = await startTinyEngine());
    const buyer = await network.owner();
    owner = buyer.account;
    buyerCtx = buyer.ctx;
    ({ stackId } = await network.buy(buyer.ctx, taskId, 100_000n));
    await startNode();
    await waitForStack(node, stackId);
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await engine?.stop();
    await network?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const chatBody = (content: string, maxTokens = 4) => ({
    model: model.id,
    messages: [{ role: "user", content }],
    max_tokens: maxTokens,
  });
  const read = (nonce: bigint, reqHash?: Hash) =>
    readStackLeaf({
      nodeUrl: node.url,
      account: owner,
      domain: client.domain,
      stackId,
      nonce,
      reqHash,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
    });

  it("signs a denial of the request named, keeps it past a restart, and never commits that request there", async () => {
    await client.chat(chatBody("first"));
    const denied = chatBody("the request cut at nonce 1");
    // As the SDK sends it (`chat` sets `stream: false`).
    const reqHash = requestHash({ ...denied, stream: false });
    // Named: the node's signed word, checked by the SDK against the node's signer, this stack, nonce and request.
    const refusal = await read(1n, reqHash).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(NodeDeniedLeafError);
    expect((refusal as NodeDeniedLeafError).signedDenial.fields).toEqual({ stackId, nonce: 1n, reqHash });
    // Unnamed: the bare 404, no word to hold the node to.
    const bare = await read(1n).catch((error: unknown) => error);
    expect(bare).toBeInstanceOf(NodeRequestError);
    expect(bare).not.toBeInstanceOf(NodeDeniedLeafError);
    expect((bare as NodeRequestError).code).toBe("leaf_not_found");

    // The refusal is on disk: a restarted node still refuses to commit that request at that nonce, 409 `leaf_denied`
    // with its signed denial (follow-ups a and c of issue 12). The client, restarted too, knows nothing of the stack:
    // it signs the request at nonce 0 (refused as used) and again at 1, the nonce the node names. Refused there on the
    // node's signed word, it pays a one-token filler at nonce 1 (the honest reuse of the freed nonce) and the request
    // is answered at 2. (Before, the retry was keyed on the first nonce signed, 0: no filler, and the request failed.)
    await node.stop();
    await startNode();
    const answered = await client.chat(denied);
    expect(answered.fields.leafIndex).toBe(2n);
    expect(answered.fields.reqHash).toBe(reqHash);
    const filler = await read(1n);
    expect(filler.receipt.fields.reqHash).not.toBe(reqHash);
    // The filler's leaf is shown for its own request, never denied.
    expect((await read(1n, filler.receipt.fields.reqHash)).receipt.fields.reqHash).toBe(
      filler.receipt.fields.reqHash,
    );
  }, 120_000);

  it("answers a read of the nonce a request is still being answered at 409, never with a denial", async () => {
    const body = { ...chatBody("a long answer", 400), ignore_eos: true };
    let chunks = 0;
    let resolveFirst: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      resolveFirst = resolve;
    });
    const streaming = client.chatStream({ ...body, stream: true }, () => {
      if (++chunks === 1) resolveFirst();
    });
    await first;
    const inFlight = await read(3n, requestHash({ ...body, stream: true })).catch((error: unknown) => error);
    expect(inFlight).toBeInstanceOf(NodeRequestError);
    expect(inFlight).not.toBeInstanceOf(NodeDeniedLeafError);
    expect((inFlight as NodeRequestError).code).toBe("request_in_flight");
    const done = await streaming;
    expect(done.fields.leafIndex).toBe(3n);
  }, 120_000);

  // An owner that denies fresh H at N, then streams H at N, would be answered for nothing (refused only at commit,
  // after the whole answer went out): refused at admission instead, before the engine runs.
  it("refuses a denied request when it arrives, streaming not one token of it", async () => {
    const body = { ...chatBody("a free answer, once denied", 200), ignore_eos: true, stream: true };
    const reqHash = requestHash(body);
    expect(await read(4n, reqHash).catch((error: unknown) => error)).toBeInstanceOf(NodeDeniedLeafError);
    const signed = await signStackRequest(owner, client.domain, {
      stackId,
      body,
      nonce: 4n,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 120),
      maxUnits: 10_000n,
    });
    const answer = await fetch(`${node.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
    });
    // Before: 200, the whole answer streamed, then an error event (nothing committed, nothing billed).
    expect(answer.status).toBe(409);
    const refusal = (await answer.json()) as { error: { code: string }; denial: unknown };
    expect(refusal.error.code).toBe("leaf_denied");
    // With the node's signed word for that request at that nonce: what a client acts on (follow-up a of issue 12).
    const denial = await verifyLeafDenial(
      client.domain,
      refusal.denial,
      { stackId, nonce: 4n, reqHash },
      server.signerAccount.address,
    );
    expect(denial.fields.nonce).toBe(4n);
    // The nonce was released: another request takes it.
    const next = await client.chat(chatBody("the honest one at nonce 4"));
    expect(next.fields.leafIndex).toBe(4n);
  }, 120_000);

  // Review leaf denials LOW-5: a stack settling takes no request, so a denial there binds nothing, and its record
  // would outlive the one cleanup at settlement: the plain 404 of before, nothing recorded.
  it("answers a named read of a stack no longer active with the plain 404, signing no denial", async () => {
    await closeStack(buyerCtx, { stackId });
    // What the node's settler does first with a closed stack: no request is taken from then on.
    // (A request still in flight only keeps its settlement snapshot waiting: the stack is closed all the same.)
    await freezeForSettlement(node.context.db, stackId).catch((error: unknown) => {
      if (!(error instanceof StackBusyError)) throw error;
    });
    expect((await getStack(node.context.db, stackId))?.state).toBe("settling");
    const reqHash = requestHash({ ...chatBody("cut after the close"), stream: false });
    const plain = await read(5n, reqHash).catch((error: unknown) => error);
    expect(plain).toBeInstanceOf(NodeRequestError);
    expect(plain).not.toBeInstanceOf(NodeDeniedLeafError);
    expect((plain as NodeRequestError).code).toBe("leaf_not_found");
    const recorded = await node.context.db
      .selectFrom("denied_leaves")
      .selectAll()
      .where("stack_id", "=", stackId)
      .where("nonce", "=", 5n)
      .execute();
    expect(recorded).toEqual([]);
  }, 120_000);
});
