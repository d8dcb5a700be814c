import {
  atomaDomain,
  findReceiptFraud,
  findSettledLeafFraud,
  leafHash,
  resultBytes,
  type SignedReceipt,
  type SignedResponseFields,
  StackTree,
  signLeafDenial,
  signResponse,
} from "@atoma/core";
import { bytesToHex, keccak256, type LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buyStack } from "../src/actions/buyStack.js";
import type { ChainContext } from "../src/actions/context.js";
import { proveReceiptFraud } from "../src/actions/proveReceiptFraud.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import {
  PRICE,
  SecurityLevel,
  serveStack,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "./network.js";

/** A node that bills what it did not serve, proven from its own signatures (soundness items 2, 15 and 10). */
/** The same signature with v - 27 (0/1), as some signers give it. */
function yParityForm<T extends { signature: `0x${string}` }>(signed: T): T {
  const v = Number.parseInt(signed.signature.slice(130), 16);
  return { ...signed, signature: `${signed.signature.slice(0, 130)}0${v - 27}` };
}

describe("receipt fraud proofs against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let task: bigint;
  let user: { account: LocalAccount; ctx: ChainContext };
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  beforeAll(async () => {
    network = await startNetwork();
    nodes = [];
    for (let i = 0; i < 5; i++) nodes.push(await network.addNode());
    task = await taskWith(network, nodes, { securityLevel: SecurityLevel.None });
    user = await network.account();
    await network.advance(3_600);
  }, 120_000);
  afterAll(() => network.stop());

  const buy = () =>
    buyStack(user.ctx, { taskId: task, units: 1_000_000n, maxPricePerMillion: PRICE, duration: 86_400n });

  /** A chat answer that used 60 + 40 tokens. */
  const answer = (k: number) => ({
    id: `chatcmpl-${k}`,
    object: "chat.completion",
    created: 1_700_000_000,
    model: "atoma-tiny",
    choices: [{ index: 0, message: { role: "assistant", content: `answer ${k}` }, finish_reason: "stop" }],
    usage: { prompt_tokens: 60, completion_tokens: 40, total_tokens: 100 },
  });

  async function receipt(node: TestNode, fields: SignedResponseFields): Promise<SignedReceipt> {
    const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
    return { fields, signature: await signResponse(node.signerAccount, domain, fields) };
  }

  const fieldsOf = (stackId: bigint, k: number, units: bigint, cumulativeUnits: bigint) => ({
    stackId,
    leafIndex: BigInt(k),
    nonce: BigInt(k),
    reqHash: `0x${"11".repeat(32)}` as const,
    respHash: `0x${"22".repeat(32)}` as const,
    units,
    cumulativeUnits,
    seed: 0n,
  });

  const balance = () => network.deployment.contracts.vault.read.balanceOf([user.account.address]);

  it("proves two receipts whose running total jumps to the whole stack, refunding the owner", async () => {
    const stack = await buy();
    const server = byId(stack.nodeId);
    // The node signed the jump with v - 27 (0/1): OpenZeppelin's tryRecover reads address 0 from it, so it is sent
    // as 27/28 (the same signature) and still convicts the node.
    const kept = [
      await receipt(server, fieldsOf(stack.stackId, 0, 100n, 100n)),
      yParityForm(await receipt(server, fieldsOf(stack.stackId, 1, 100n, 1_000_000n))),
    ];
    const proof = findReceiptFraud(kept, 1_000_000n);
    expect(proof?.kind).toBe("runningTotal");
    const before = await balance();
    const proven = await proveReceiptFraud(user.ctx, proof!);
    expect(proven).toMatchObject({ stackId: stack.stackId, nodeId: server.nodeId, refunded: PRICE });
    expect(await balance()).toBeGreaterThan(before + PRICE);
    const node = await network.deployment.contracts.nodeRegistry.read.getNode([server.nodeId]);
    expect(node.collateral).toBe(0n);
    await expect(proveReceiptFraud(user.ctx, proof!)).rejects.toMatchObject({ errorName: "AlreadyProven" });
  });

  it("proves a first answer billed as the whole stack from the answer's own usage", async () => {
    const stack = await buy();
    const server = byId(stack.nodeId);
    const response = answer(0);
    const result = resultBytes(response);
    const inflated = await receipt(server, {
      ...fieldsOf(stack.stackId, 0, 333_334n, 333_334n),
      respHash: keccak256(result),
    });
    expect(findReceiptFraud([inflated])).toBeUndefined();
    const proven = await proveReceiptFraud(user.ctx, {
      kind: "units",
      receipt: inflated,
      result: bytesToHex(result),
    });
    expect(proven.nodeId).toBe(server.nodeId);
    const honest = await receipt(byId(stack.nodeId), {
      ...fieldsOf(stack.stackId, 0, 100n, 100n),
      respHash: keccak256(result),
    });
    await expect(
      proveReceiptFraud(user.ctx, { kind: "units", receipt: honest, result: bytesToHex(result) }),
    ).rejects.toMatchObject({ errorName: "NoFraud" });
  });

  it("proves a request billed twice from the settled root", async () => {
    const stack = await buy();
    const server = byId(stack.nodeId);
    const served = await serveStack(network, stack.stackId, user.account, server, 3);
    // The server appends a copy of request 1 (its nonce, its signature) and bills it again.
    const copy = { ...served.leaves[1]!, leafIndex: 3n, cumulativeUnits: 400n };
    const leaves = [...served.leaves, copy];
    const tree = new StackTree(leaves.map(leafHash));
    await submitSettlement(server.signer, {
      stackId: stack.stackId,
      root: tree.root,
      units: 400n,
      requestCount: 4n,
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    const broken = findSettledLeafFraud(leaves, 400n);
    expect(broken).toEqual([copy]);
    const proven = await proveReceiptFraud(user.ctx, {
      kind: "settledLeaves",
      stackId: stack.stackId,
      leaves: broken!,
      proofs: broken!.map((leaf) => tree.proof(Number(leaf.leafIndex))),
    });
    expect(proven).toMatchObject({ nodeId: server.nodeId, refunded: PRICE });
  });

  // Issue 12, denied leaves: the node's signed "no leaf for request H at nonce N, and none will be committed", then H
  // settled at N. Replayed against another stack it proves nothing; nor does another request's leaf at N.
  it("proves a leaf the node signed it would never commit, and refuses the denial elsewhere", async () => {
    const [stack, other] = [await buy(), await buy()];
    const server = byId(stack.nodeId);
    const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
    const served = await serveStack(network, stack.stackId, user.account, server, 3);
    const tree = new StackTree(served.leaves.map(leafHash));
    await submitSettlement(server.signer, {
      stackId: stack.stackId,
      root: tree.root,
      units: served.leaves.at(-1)!.cumulativeUnits,
      requestCount: 3n,
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    const leaf = served.leaves[1]!;
    const fields = { stackId: stack.stackId, nonce: 1n, reqHash: leaf.reqHash };
    const denial = { fields, signature: await signLeafDenial(server.signerAccount, domain, fields) };
    const evidence = {
      kind: "deniedLeaf" as const,
      stackId: stack.stackId,
      denial,
      leaf,
      proof: tree.proof(1),
    };
    await expect(proveReceiptFraud(user.ctx, { ...evidence, stackId: other.stackId })).rejects.toMatchObject({
      errorName: "DenialForOtherStack",
    });
    const elsewhere = { ...fields, reqHash: served.leaves[2]!.reqHash };
    const otherRequest = {
      fields: elsewhere,
      signature: await signLeafDenial(server.signerAccount, domain, elsewhere),
    };
    await expect(proveReceiptFraud(user.ctx, { ...evidence, denial: otherRequest })).rejects.toMatchObject({
      errorName: "LeafForOtherRequest",
    });
    const forged = { fields, signature: await signLeafDenial(user.account, domain, fields) };
    await expect(proveReceiptFraud(user.ctx, { ...evidence, denial: forged })).rejects.toMatchObject({
      errorName: "InvalidDenialSignature",
    });
    // A denial the node signed with v - 27 convicts it all the same (sent with v 27/28).
    const proven = await proveReceiptFraud(user.ctx, { ...evidence, denial: yParityForm(denial) });
    expect(proven).toMatchObject({ stackId: stack.stackId, nodeId: server.nodeId, kind: 8 });
    const node = await network.deployment.contracts.nodeRegistry.read.getNode([server.nodeId]);
    expect(node.collateral).toBe(0n);
  });

  it("refuses receipts that add up", async () => {
    const stack = await buy();
    const server = byId(stack.nodeId);
    const first = await receipt(server, fieldsOf(stack.stackId, 0, 100n, 100n));
    const second = await receipt(server, fieldsOf(stack.stackId, 1, 100n, 200n));
    await expect(
      proveReceiptFraud(user.ctx, { kind: "runningTotal", previous: first, receipt: second }),
    ).rejects.toMatchObject({ errorName: "NoFraud" });
  });
});
