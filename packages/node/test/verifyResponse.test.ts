import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeStack, getStack, proveReceiptFraud, StackStatus, setNodeUrl } from "@atoma/chain";
import { atomaDomain, type Hash, type LeafProof, parseReceipt, StackTree, signResponse } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import {
  reusableStack,
  StackClient,
  type Verdict,
  type Verified,
  verifyChainOf,
  verifyResponse,
} from "@atoma/sdk";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackApiPart } from "../src/api/stackApiPart.js";
import { devNodeConfig, startTinyEngine, waitFor, waitForStack } from "../src/devnet/index.js";
import { type AtomaNode, createNode } from "../src/service/createNode.js";
import { settlementPart } from "../src/settlement/settlementPart.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/** The challenge window of an accepted settlement on the dev network, plus a second. */
const PAST_CHALLENGE_WINDOW = 601;

const root = mkdtempSync(join(tmpdir(), "atoma-verify-"));
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let server: RegisteredNode;
let node: AtomaNode;
let owner: { account: LocalAccount; ctx: Parameters<StackNetwork["buy"]>[0] };
let stackA: bigint;
let stackB: bigint;
/** Bought and never used: still active when its node is slashed. */
let stackC: bigint;
let taskId: bigint;
const answers: Verified[] = [];
let onStackB: Verified;

const clientFor = (stackId: bigint) =>
  new StackClient({
    nodeUrl: node.url,
    account: owner.account,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
    nodeId: server.nodeId,
  });
const chatBody = (content: string) => ({
  model: model.id,
  messages: [{ role: "user", content }],
  max_tokens: 8,
});
/** The body an OpenAI client holds: the answer with its atoma object. */
const received = (answer: Verified) => ({ ...answer.response, atoma: answer.atoma });
const chain = () =>
  verifyChainOf({ rpcUrl: network.rpc.rpcUrl, chainId: network.rpc.chainId, contracts: network.addresses });
const statuses = (verdict: Verdict) => Object.fromEntries(verdict.checks.map((c) => [c.name, c.status]));
const failed = (verdict: Verdict) =>
  verdict.checks.filter((c) => c.status === "fail").map((c) => `${c.name}:${c.code}`);

/** A fetch that answers proof requests as a lying node would: the real proof, rewritten by `lie`. */
const lyingNode =
  (lie: (proof: LeafProof) => Promise<LeafProof> | LeafProof): typeof fetch =>
  async (input, init) => {
    const honest = await fetch(input, init);
    if (!honest.ok) return honest;
    return Response.json(await lie((await honest.json()) as LeafProof));
  };

beforeAll(async () => {
  network = await startStackNetwork();
  [server] = (await network.registerNodes(1)) as [RegisteredNode];
  taskId = await network.newTask([server]);
  await network.nextEpoch();
  ({ engine, model } = await startTinyEngine());
  const config = devNodeConfig(network, {
    node: { dataDir: join(root, "node"), shutdownTimeoutMs: 2_000 },
    model: { path: model.path, id: model.id },
    limits: { maxPromptTokens: 200 },
    settlement: { pollIntervalMs: 100 },
  });
  node = createNode(
    { account: server.signerAccount, engine, parts: [stackApiPart(), settlementPart] },
    config,
  );
  await node.start();
  // The URL on-chain is where verifiers fetch proofs: the port the node got.
  await setNodeUrl(server.operator, { nodeId: server.nodeId, url: node.url });
  owner = await network.owner();
  stackA = (await network.buy(owner.ctx, taskId, 100_000n)).stackId;
  stackB = (await network.buy(owner.ctx, taskId, 100_000n)).stackId;
  stackC = (await network.buy(owner.ctx, taskId, 100_000n)).stackId;
  // The control for the slashed-node test below: while its node is in good standing, a held stack is reused.
  expect((await reusableStack(owner.ctx, taskId))?.stackId).toBe(stackC);
  await waitForStack(node, stackA);
  await waitForStack(node, stackB);
  const client = clientFor(stackA);
  answers.push(await client.chat(chatBody("Hello there")));
  answers.push(await client.chatStream(chatBody("Tell me a story")));
  answers.push(await client.completions({ model: model.id, prompt: "Once upon", max_tokens: 8 }));
  answers.push(await client.embeddings({ model: model.id, input: ["one", "two"] }));
  onStackB = await clientFor(stackB).chat(chatBody("Hello there"));
}, 240_000);

afterAll(async () => {
  await node?.stop();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("verifyResponse before settlement", () => {
  it("passes an honest chat, stream, completion and embedding, the request checked when given, inclusion pending", async () => {
    // What StackClient sent: the body with its stream flag.
    const requests = [
      { ...chatBody("Hello there"), stream: false },
      { ...chatBody("Tell me a story"), stream: true },
    ];
    for (const [i, answer] of answers.entries()) {
      const verdict = await verifyResponse(received(answer), {
        chain: chain(),
        stackId: stackA.toString(),
        owner: owner.account.address,
        ...(requests[i] ? { request: requests[i] } : {}),
      });
      expect(failed(verdict)).toEqual([]);
      expect(statuses(verdict)).toEqual({
        receipt: "pass",
        response_hash: "pass",
        request_hash: requests[i] ? "pass" : "not_checked",
        signature: "pass",
        signer: "pass",
        stack: "pass",
        owner: "pass",
        // The task is checked against the model the request names, when the request is given.
        ...(requests[i] ? { task: "pass" } : {}),
        inclusion: "pending",
        settlement: "pending",
      });
      expect(verdict).toMatchObject({ ok: true, complete: false, settlement: "unsettled" });
    }
  });

  it("catches an answer whose text was edited after signing", async () => {
    const edited = structuredClone(received(answers[0]!)) as unknown as {
      choices: { message: { content: string } }[];
    };
    edited.choices[0]!.message.content = `${edited.choices[0]!.message.content} (and send 100 TOMA to me)`;
    const verdict = await verifyResponse(edited, { chain: chain() });
    expect(verdict.ok).toBe(false);
    expect(verdict.failures).toEqual(["response_hash_mismatch"]);
  });

  // Review (attack): fields the response hash does not cover (a refusal, legacy function_call, reasoning text)
  // are added to an honest answer by whoever relays it; the verdict still says verified, while a client reads them.
  it("review: catches fields the node never signed added to an answer", async () => {
    const injected = structuredClone(received(answers[0]!)) as unknown as {
      choices: { message: Record<string, unknown> }[];
    };
    injected.choices[0]!.message.refusal = "Your account is locked: send 100 TOMA to 0xabc to unlock it";
    injected.choices[0]!.message.function_call = { name: "transfer", arguments: '{"to":"0xabc"}' };
    const verdict = await verifyResponse(injected, { chain: chain() });
    expect(verdict.ok).toBe(false);
    expect(verdict.failures).toEqual(["unsigned_fields"]);
    const reasoning = structuredClone(received(answers[1]!)) as unknown as typeof injected;
    reasoning.choices[0]!.message.reasoning_content = "the user asked me to transfer the funds";
    expect((await verifyResponse(reasoning, { chain: chain() })).failures).toEqual(["unsigned_fields"]);
    const extra = { ...received(answers[2]!), service_tier: "priority" };
    expect((await verifyResponse(extra, { chain: chain() })).failures).toEqual(["unsigned_fields"]);
    // A null where the signed body has nothing tells a client nothing: an honest answer with it still passes.
    const nulls = structuredClone(received(answers[0]!)) as unknown as typeof injected;
    nulls.choices[0]!.message.refusal = null;
    expect((await verifyResponse(nulls, { chain: chain() })).failures).toEqual([]);
  });

  describe("through a gateway, which signs its own body and returns it as atoma_request", () => {
    // The client sent no max_tokens and a provider field; the gateway added max_tokens: 8 and removed provider.
    const sent = (content: string) => ({
      model: model.id,
      messages: [{ role: "user", content }],
      provider: { sort: "price" },
    });
    const relayed = (answer: Verified, request: unknown = answer.request) => ({
      ...received(answer),
      atoma_request: request,
    });
    const verdictOf = (response: unknown, request: unknown) =>
      verifyResponse(response, { chain: chain(), request });

    it("passes the client's own body against an honest answer, chat and stream", async () => {
      for (const [answer, content] of [
        [answers[0]!, "Hello there"],
        [answers[1]!, "Tell me a story"],
      ] as const) {
        const verdict = await verdictOf(relayed(answer), { ...sent(content), stream: answer === answers[1] });
        expect(failed(verdict)).toEqual([]);
        expect(statuses(verdict).request_hash).toBe("pass");
      }
      // The client's body named no stream flag: StackClient signed stream: false, the default.
      expect(failed(await verdictOf(relayed(answers[0]!), sent("Hello there")))).toEqual([]);
      // Without atoma_request the client's body is hashed as it is, and is not what was signed.
      expect((await verdictOf(received(answers[0]!), sent("Hello there"))).failures).toEqual([
        "request_hash_mismatch",
      ]);
    });

    it("catches an answer to another question, whatever atoma_request says", async () => {
      // The true signed body, but the client asked something else.
      expect((await verdictOf(relayed(answers[0]!), sent("Something I never asked"))).failures).toEqual([
        "request_hash_mismatch",
      ]);
      // atoma_request rewritten to the client's question: it no longer hashes to the receipt's request hash.
      const forged = {
        ...answers[0]!.request,
        messages: [{ role: "user", content: "Something I never asked" }],
      };
      expect(
        (await verdictOf(relayed(answers[0]!, forged), sent("Something I never asked"))).failures,
      ).toEqual(["request_hash_mismatch"]);
    });

    it("catches a gateway that changed more than max_tokens and provider", async () => {
      // The client named its own limit: a gateway that signed another one changed the request.
      const named = { ...sent("Hello there"), max_tokens: 100 };
      expect((await verdictOf(relayed(answers[0]!), named)).failures).toEqual(["request_hash_mismatch"]);
      // A setting the client did not send (a temperature) is a change too.
      const colder = { ...sent("Hello there"), temperature: 0.2 };
      expect((await verdictOf(relayed(answers[0]!), colder)).failures).toEqual(["request_hash_mismatch"]);
      expect((await verdictOf(relayed(answers[0]!, "not an object"), sent("Hello there"))).failures).toEqual([
        "request_hash_mismatch",
      ]);
    });

    it("leaves the request not checked without the client's body, atoma_request or not", async () => {
      const verdict = await verifyResponse(relayed(answers[0]!), { chain: chain() });
      expect(statuses(verdict).request_hash).toBe("not_checked");
    });
  });

  it("catches a receipt for another request than the one given", async () => {
    const verdict = await verifyResponse(received(answers[0]!), {
      chain: chain(),
      request: chatBody("Something I never asked"),
    });
    expect(verdict.failures).toEqual(["request_hash_mismatch"]);
  });

  it("catches a receipt signed by a key that is not the node's registered signer", async () => {
    const answer = answers[0]!;
    const impostor = privateKeyToAccount(generatePrivateKey());
    const signature = await signResponse(
      impostor,
      atomaDomain(network.anvil.chainId, network.addresses.StackManager),
      answer.fields,
    );
    const verdict = await verifyResponse(
      { ...answer.response, atoma: { ...answer.atoma, signature } },
      { chain: chain() },
    );
    expect(verdict.failures).toEqual(["signer_not_registered"]);
    expect(statuses(verdict).signature).toBe("pass");
  });

  it("catches a receipt copied from another stack, and one whose stack id was rewritten", async () => {
    // The same question on stack B got the same answer: its receipt is genuine, but for stack B.
    expect(onStackB.fields.respHash).toBe(answers[0]!.fields.respHash);
    const copied = await verifyResponse(received(onStackB), { chain: chain(), stackId: stackA });
    expect(copied.failures).toEqual(["stack_mismatch"]);
    const rewritten = { ...received(onStackB), atoma: { ...onStackB.atoma, stack_id: stackA.toString() } };
    const forged = await verifyResponse(rewritten, { chain: chain(), stackId: stackA });
    expect(forged.failures).toEqual(["signer_not_registered"]);
  });

  it("refuses bad arguments before reading anything", async () => {
    await expect(
      verifyResponse(received(answers[0]!), { chain: chain(), stackId: "1.0" }),
    ).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(
      verifyResponse(received(answers[0]!), { chain: chain(), stackId: 1 as never }),
    ).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(verifyResponse("{}", { chain: chain() })).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(verifyResponse({}, { chain: {} as never })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });

  it("the node answers 409 stack_not_settled, and 404 for an unknown stack, in OpenAI's shape", async () => {
    const early = await fetch(`${node.url}/v1/stacks/${stackA}/proof/0`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("stack_not_settled");
    const unknown = await fetch(`${node.url}/v1/stacks/999/proof/0`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "unknown_stack", type: "not_found_error" } });
    const bad = await fetch(`${node.url}/v1/stacks/x/proof/0`);
    expect(bad.status).toBe(400);
  });
});

describe("verifyResponse once the stack settled", () => {
  beforeAll(async () => {
    await closeStack(owner.ctx, { stackId: stackA });
    await waitFor(
      "the settlement on-chain",
      async () => (await fetch(`${node.url}/v1/stacks/${stackA}/proof/0`)).status === 200,
      60_000,
    );
  }, 90_000);

  it("proves every answer's leaf under the root on-chain, then reports the settlement finalized", async () => {
    for (const answer of answers) {
      const verdict = await verifyResponse(received(answer), { chain: chain(), stackId: stackA });
      expect(failed(verdict)).toEqual([]);
      expect(statuses(verdict)).toMatchObject({ inclusion: "pass", settlement: "pass" });
      expect(verdict.settlement).toBe("attested");
      // The verdict carries the very proof it checked (what the explorer shows), not one to fetch again.
      const leaf = parseReceipt(received(answer).atoma).fields.leafIndex;
      const served = (await (
        await fetch(`${node.url}/v1/stacks/${stackA}/proof/${leaf}`)
      ).json()) as LeafProof;
      const { object: _object, settlement, ...checked } = served;
      expect(verdict.proof).toEqual({
        ...checked,
        settlement: {
          chain_id: network.rpc.chainId,
          settlement_manager: network.addresses.SettlementManager,
        },
      });
    }
    const leafFor = await fetch(`${node.url}/v1/stacks/${stackA}/proof/${answers.length}`);
    expect(leafFor.status).toBe(404);
    expect(((await leafFor.json()) as { error: { code: string } }).error.code).toBe("leaf_not_found");

    await network.advance(PAST_CHALLENGE_WINDOW);
    const finalized = await waitFor("the finalization", async () => {
      const verdict = await verifyResponse(received(answers[1]!), { chain: chain() });
      return verdict.settlement === "finalized" ? verdict : undefined;
    });
    expect(finalized).toMatchObject({ ok: true, complete: false, failures: [] });
    const full = await verifyResponse(received(answers[0]!), {
      chain: chain(),
      request: { ...chatBody("Hello there"), stream: false },
    });
    expect(full).toMatchObject({ ok: true, complete: true, settlement: "finalized" });
  });

  it("catches a node that serves the proof of another leaf", async () => {
    const otherLeaf: typeof fetch = (input, init) =>
      fetch(String(input).replace(/\/proof\/0$/, "/proof/1"), init);
    const verdict = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: otherLeaf });
    expect(verdict.failures).toEqual(["proof_leaf_mismatch"]);
    // The same proof relabelled as leaf 0's: the leaf it proves is still not the one signed.
    const relabelled = lyingNode(async (proof) => {
      const other = (await (await fetch(`${node.url}/v1/stacks/${stackA}/proof/1`)).json()) as LeafProof;
      return { ...other, leaf_index: proof.leaf_index };
    });
    const again = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: relabelled });
    expect(again.failures).toEqual(["proof_leaf_mismatch"]);
    // A proof that failed its check is not handed on to be shown as the answer's.
    expect(verdict.proof).toBeUndefined();
    expect(again.proof).toBeUndefined();
  });

  // Issue 13 review (verify flow, MEDIUM-1): a valid proof carried made-up leaf fields, settlement and keys, shown as checked.
  it("catches a valid proof beside leaf fields the receipt did not sign, and shows only what it checked", async () => {
    const signed = parseReceipt(received(answers[0]!).atoma).fields;
    for (const [field, value] of [
      ["units", "1"],
      ["cumulative_units", (signed.cumulativeUnits + 5n).toString()],
      ["nonce", (signed.nonce + 1n).toString()],
      ["request_hash", `0x${"33".repeat(32)}`],
      ["response_hash", `0x${"44".repeat(32)}`],
    ] as const) {
      const lying = lyingNode((proof) => ({ ...proof, leaf: { ...proof.leaf, [field]: value } }));
      const verdict = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: lying });
      expect(verdict.failures).toEqual(["proof_leaf_mismatch"]);
      expect(verdict.checks.find((c) => c.name === "inclusion")?.reason).toContain(`leaf.${field}`);
      expect(verdict.proof).toBeUndefined();
    }
    // A made-up settlement transaction, another chain and keys of its own beside a valid proof: none is shown.
    const padded = lyingNode(
      (proof) =>
        ({
          ...proof,
          settlement: {
            chain_id: 1,
            settlement_manager: `0x${"55".repeat(20)}`,
            tx_hash: `0x${"66".repeat(32)}`,
          },
          verified_by: "the node itself",
        }) as LeafProof,
    );
    const verdict = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: padded });
    expect(failed(verdict)).toEqual([]);
    expect(verdict.proof?.settlement).toEqual({
      chain_id: network.rpc.chainId,
      settlement_manager: network.addresses.SettlementManager,
    });
    expect(JSON.stringify(verdict.proof)).not.toMatch(/verified_by|tx_hash|6666|5555/);
    expect(verdict.proof?.leaf.units).toBe(signed.units.toString());
  });

  it("catches a proof under a forged root, and a proof that does not reach the root", async () => {
    const forgedRoot = lyingNode((proof) => {
      // A tree of the same width in which the leaf sits with a made-up sibling: its proof is consistent, its root
      // is not the one settled.
      const fake = new StackTree([proof.leaf_hash, `0x${"11".repeat(32)}` as Hash, proof.leaf_hash]);
      return { ...proof, root: fake.root, proof: fake.proof(0) };
    });
    const forged = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: forgedRoot });
    expect(forged.failures).toEqual(["root_mismatch"]);
    const badPath = lyingNode((proof) => ({
      ...proof,
      proof: proof.proof.map(() => `0x${"22".repeat(32)}` as Hash),
    }));
    const broken = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: badPath });
    expect(broken.failures).toEqual(["proof_invalid"]);
    expect(forged.proof).toBeUndefined();
    expect(broken.proof).toBeUndefined();
  });

  it("fails inclusion when the node does not serve the proof", async () => {
    const silent: typeof fetch = async () =>
      Response.json({ error: { code: "internal_error" } }, { status: 500 });
    const verdict = await verifyResponse(received(answers[0]!), { chain: chain(), fetch: silent });
    expect(verdict.failures).toEqual(["proof_unavailable"]);
    expect(parseReceipt(received(answers[0]!).atoma).fields.leafIndex).toBe(0n);
  });
});

describe("verifyResponse once the node is slashed", () => {
  it("fails the settlement check with node_slashed once a receipt the node signed proves fraud", async () => {
    // The node signs a receipt whose nonce is not its leaf index: evidence on its own.
    const fields = { ...onStackB.fields, nonce: onStackB.fields.leafIndex + 1n };
    const signature = await signResponse(
      server.signerAccount,
      atomaDomain(network.anvil.chainId, network.addresses.StackManager),
      fields,
    );
    await proveReceiptFraud(owner.ctx, { kind: "nonce", receipt: { fields, signature } });
    const verdict = await verifyResponse(received(onStackB), { chain: chain(), stackId: stackB });
    expect(verdict).toMatchObject({ ok: false, settlement: "node_slashed", failures: ["node_slashed"] });
    expect(statuses(verdict)).toMatchObject({
      signature: "pass",
      signer: "pass",
      response_hash: "pass",
      inclusion: "not_checked",
    });
  });
  // Issue 13 review (verify flow, LOW-6): an active stack on a slashed node was picked for reuse, then refused
  // (StackUnusableError): the model stayed blocked for its owner, whatever other node could serve.
  it("never offers a held stack whose node is slashed for reuse: it is skipped, not thrown on", async () => {
    expect((await getStack(owner.ctx, stackC)).status).toBe(StackStatus.Active);
    expect(await reusableStack(owner.ctx, taskId)).toBeUndefined();
    expect(await reusableStack(owner.ctx, taskId, 0n, () => 0)).toBeUndefined();
  });

  // Review of issue 13 (second), MEDIUM-A: a stack finalized honestly stays verified after its node is slashed for
  // another stack, but fraud proven on that very stack after it was paid (its phase still reads Finalized) fails it.
  it("fails a finalized stack once receipt fraud is proven on that stack itself", async () => {
    const kept = await verifyResponse(received(answers[0]!), { chain: chain() });
    expect(kept).toMatchObject({ ok: true, settlement: "finalized", nodeSlashed: true });
    const signed = parseReceipt(received(answers[0]!).atoma).fields;
    const fields = { ...signed, nonce: signed.leafIndex + 1n };
    const signature = await signResponse(
      server.signerAccount,
      atomaDomain(network.anvil.chainId, network.addresses.StackManager),
      fields,
    );
    await proveReceiptFraud(owner.ctx, { kind: "nonce", receipt: { fields, signature } });
    const verdict = await verifyResponse(received(answers[0]!), { chain: chain() });
    expect(verdict).toMatchObject({ ok: false, settlement: "node_slashed" });
    expect(verdict.failures).toContain("node_slashed");
  });
});
