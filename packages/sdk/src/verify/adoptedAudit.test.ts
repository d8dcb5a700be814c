import {
  atomaDomain,
  type LeafProof,
  leafHash,
  leafOf,
  type SignedResponseFields,
  StackTree,
  signResponse,
} from "@atoma/core";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import type { KeptReceipt } from "../StackClient.js";
import { adoptedLeavesNotSettled } from "./adoptedAudit.js";

const node = privateKeyToAccount(generatePrivateKey());
const domain = atomaDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const fieldsAt = (leafIndex: bigint, request: string, cumulativeUnits: bigint): SignedResponseFields => ({
  stackId: 9n,
  leafIndex,
  nonce: leafIndex,
  reqHash: keccak256(toHex(request)),
  respHash: keccak256(toHex(`answer to ${request}`)),
  units: 20n,
  cumulativeUnits,
  seed: 1n,
});
const adopted = async (fields: SignedResponseFields): Promise<KeptReceipt> => ({
  fields,
  signature: await signResponse(node, domain, fields),
  result: "0x",
  adopted: true,
});

describe("adoptedLeavesNotSettled (review H1: two clients each shown the other's leaf at one nonce)", () => {
  it("names the adopted receipt the settlement does not hold, whichever of the two leaves the node settled", async () => {
    // Clients A and B of one owner both signed at nonce 1; the node signed a receipt for each request at leaf 1,
    // showed A the one for B's request and B the one for A's, and answered neither.
    const zero = fieldsAt(0n, "hello", 20n);
    const forA = fieldsAt(1n, "request of A", 40n);
    const forB = fieldsAt(1n, "request of B", 40n);
    const heldByB = await adopted(forA);
    const heldByA = await adopted(forB);
    const tree = new StackTree([leafHash(leafOf(zero)), leafHash(leafOf(forA))]);
    const settled = { root: tree.root, requestCount: 2n };
    const proofOf = (fields: SignedResponseFields): LeafProof => ({
      object: "stack.leaf_proof",
      stack_id: "9",
      leaf_index: fields.leafIndex.toString(),
      leaf: {
        nonce: fields.nonce.toString(),
        request_hash: fields.reqHash,
        response_hash: fields.respHash,
        units: fields.units.toString(),
        cumulative_units: fields.cumulativeUnits.toString(),
      },
      leaf_hash: leafHash(leafOf(fields)),
      leaf_count: "2",
      root: tree.root,
      proof: tree.proof(Number(fields.leafIndex)),
      settlement: { chain_id: 31337, settlement_manager: null, tx_hash: keccak256(toHex("settle")) },
    });
    // The node settled A's leaf, and proves it when asked for leaf 1.
    const nodeFetch: typeof fetch = async (input) =>
      String(input).endsWith("/v1/stacks/9/proof/1")
        ? Response.json(proofOf(forA))
        : new Response(null, { status: 404 });
    const audit = (receipts: KeptReceipt[]) =>
      adoptedLeavesNotSettled({ receipts, nodeUrl: "http://node.test", settled, fetch: nodeFetch });
    const none = { notSettled: [], unproven: [] };
    // B's adopted leaf (A's request) is settled: nothing to challenge.
    expect(await audit([heldByB])).toEqual(none);
    // A's adopted leaf (B's request) is not: the node's own proof shows A's leaf there, under the chain's root.
    const found = await audit([heldByA]);
    expect(found.notSettled.map((f) => f.receipt.signature)).toEqual([heldByA.signature]);
    expect(found.notSettled[0]?.reason).toMatch(/proves another leaf at index 1/);
    expect(found.unproven).toEqual([]);
    // A receipt this client was answered with is not audited here (its own checks ran when it came).
    expect(await audit([{ ...heldByA, adopted: undefined }])).toEqual(none);
    // Past the settled count: not settled, no proof needed.
    const past = await adopted(fieldsAt(2n, "request at 2", 60n));
    expect((await audit([past])).notSettled.map((f) => f.receipt.signature)).toEqual([past.signature]);
  });

  it("takes a node that refuses, garbles or re-roots a proof as unproven, never as not settled (review MED-2)", async () => {
    // A node baiting a challenge: it settled the adopted leaf, and would answer the challenge on-chain with the real
    // proof and keep the owner's bond. Whatever it sends instead of the proof, nothing is called not settled.
    const zero = fieldsAt(0n, "hello", 20n);
    const one = fieldsAt(1n, "another client's request", 40n);
    const tree = new StackTree([leafHash(leafOf(zero)), leafHash(leafOf(one))]);
    const settled = { root: tree.root, requestCount: 2n };
    const receipt = await adopted(one);
    let asked = 0;
    const answers: (() => Response)[] = [
      () => new Response(JSON.stringify({ error: { code: "busy" } }), { status: 503 }),
      () => Response.json({ object: "stack.leaf_proof" }),
      () =>
        Response.json({
          object: "stack.leaf_proof",
          stack_id: "9",
          leaf_index: "1",
          leaf: {
            nonce: "1",
            request_hash: zero.reqHash,
            response_hash: zero.respHash,
            units: "20",
            cumulative_units: "20",
          },
          leaf_hash: leafHash(leafOf(zero)),
          leaf_count: "2",
          root: keccak256(toHex("a root nobody settled")),
          proof: tree.proof(1),
          settlement: { chain_id: 31337, settlement_manager: null, tx_hash: keccak256(toHex("settle")) },
        }),
    ];
    for (const answer of answers) {
      const nodeFetch: typeof fetch = async () => {
        asked++;
        return answer();
      };
      const found = await adoptedLeavesNotSettled({
        receipts: [receipt],
        nodeUrl: "http://node.test",
        settled,
        fetch: nodeFetch,
      });
      expect(found.notSettled).toEqual([]);
      expect(found.unproven.map((f) => f.receipt.signature)).toEqual([receipt.signature]);
    }
    // A refusal or a non-proof is asked for once more before it counts (a flaky node is not a liar).
    expect(asked).toBe(5);
  });

  it("takes two node-signed leaves at one index as not settled, though the node proves neither (review of issue 13, MEDIUM-2)", async () => {
    // Clients A and B of one owner, on one store, each adopted the other's leaf at index 1. The node settled one of
    // them and now refuses (or garbles) every proof: at most one of the two is under the root, so both are raised.
    const zero = fieldsAt(0n, "hello", 20n);
    const forA = fieldsAt(1n, "request of A", 40n);
    const forB = fieldsAt(1n, "request of B", 40n);
    const both = [await adopted(forA), await adopted(forB)];
    for (const settledLeaf of [forA, forB]) {
      const tree = new StackTree([leafHash(leafOf(zero)), leafHash(leafOf(settledLeaf))]);
      for (const answer of [
        () => new Response(JSON.stringify({ error: { code: "busy" } }), { status: 500 }),
        () => Response.json({ object: "stack.leaf_proof" }),
      ]) {
        const found = await adoptedLeavesNotSettled({
          receipts: both,
          nodeUrl: "http://node.test",
          settled: { root: tree.root, requestCount: 2n },
          fetch: async () => answer(),
        });
        expect(found.unproven).toEqual([]);
        expect(found.notSettled.map((f) => f.receipt.signature)).toEqual(both.map((r) => r.signature));
        expect(found.notSettled[0]?.reason).toMatch(/two different leaves at index 1/);
      }
    }
    // One leaf twice (one receipt kept by two clients) is one leaf: a refused proof leaves it unproven.
    const tree = new StackTree([leafHash(leafOf(zero)), leafHash(leafOf(forA))]);
    const one = await adoptedLeavesNotSettled({
      receipts: [both[0]!, { ...both[0]! }],
      nodeUrl: "http://node.test",
      settled: { root: tree.root, requestCount: 2n },
      fetch: async () => new Response(null, { status: 500 }),
    });
    expect(one.notSettled).toEqual([]);
    expect(one.unproven).toHaveLength(2);
  });

  it("takes the client's own leaf and an adopted one at one index as two leaves (second review of issue 13, MEDIUM-C)", async () => {
    // The node answered client B at index 1 (B's own receipt) and showed client A another leaf there for B's signed
    // request (A adopted it); both sit in the owner's store. The node refuses every proof.
    const zero = fieldsAt(0n, "hello", 20n);
    const answered = fieldsAt(1n, "request of B", 40n);
    const shownToA = { ...answered, respHash: keccak256(toHex("another answer to B")) };
    const own: KeptReceipt = { ...(await adopted(answered)), adopted: undefined };
    const theirs = await adopted(shownToA);
    const tree = new StackTree([leafHash(leafOf(zero)), leafHash(leafOf(answered))]);
    const found = await adoptedLeavesNotSettled({
      receipts: [own, theirs, { ...own }],
      nodeUrl: "http://node.test",
      settled: { root: tree.root, requestCount: 2n },
      fetch: async () => new Response(null, { status: 500 }),
    });
    expect(found.unproven).toEqual([]);
    expect(found.notSettled.map((f) => f.receipt.signature).sort()).toEqual(
      [own.signature, theirs.signature].sort(),
    );
    // An own leaf with no adopted one beside it is not this audit's business.
    const alone = await adoptedLeavesNotSettled({
      receipts: [own, { ...own, fields: { ...answered, respHash: keccak256(toHex("x")) } }],
      nodeUrl: "http://node.test",
      settled: { root: tree.root, requestCount: 2n },
      fetch: async () => new Response(null, { status: 500 }),
    });
    expect(alone).toEqual({ notSettled: [], unproven: [] });
  });
});
