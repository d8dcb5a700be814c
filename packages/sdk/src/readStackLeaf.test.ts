import {
  atomaDomain,
  LEAF_READ_HEADERS,
  type LeafReadFields,
  leafReadDigest,
  recoverDigestSignature,
} from "@atoma/core";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { NodeRequestError } from "./errors.js";
import { readStackLeaf } from "./readStackLeaf.js";

const domain = atomaDomain(31_337, `0x${"5a".repeat(20)}`);
const owner = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
const NO_REQUEST = `0x${"00".repeat(32)}` as const;

/**
 * A node from before named leaf reads: it knows no `x-atoma-request-hash`, checks every read as the four-field
 * `AtomaLeafRead`, answers a good one with its bare 404 (no leaf), anything else 401.
 */
function nodeBeforeNamedReads() {
  const reads: { named: boolean; status: number }[] = [];
  const fetcher = (async (input: URL | string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const [stackId, nonce] = String(input).split("/v1/stacks/")[1]!.split("/leaves/") as [string, string];
    const fields: LeafReadFields = {
      stackId: BigInt(stackId),
      nonce: BigInt(nonce.split("?")[0]!),
      deadline: BigInt(headers.get(LEAF_READ_HEADERS.deadline) ?? "0"),
      salt: headers.get(LEAF_READ_HEADERS.salt) as `0x${string}`,
      reqHash: NO_REQUEST,
    };
    const signer = await recoverDigestSignature(
      leafReadDigest(domain, fields),
      headers.get(LEAF_READ_HEADERS.signature) as `0x${string}`,
    ).catch(() => undefined);
    const status = signer === owner.address ? 404 : 401;
    reads.push({ named: headers.has(LEAF_READ_HEADERS.requestHash), status });
    const code = status === 404 ? "leaf_not_found" : "invalid_signature";
    return Response.json({ error: { message: code, type: "x", code } }, { status });
  }) as typeof fetch;
  return { fetcher, reads };
}

describe("a leaf read naming its request, to a node from before named reads", () => {
  it("is asked once more unnamed after the node's 401, and gets the node's own answer", async () => {
    const node = nodeBeforeNamedReads();
    const refused = await readStackLeaf({
      nodeUrl: "http://node.test",
      account: owner,
      domain,
      stackId: 1n,
      nonce: 2n,
      reqHash: keccak256(toHex("the cut request")),
      nodeSigner: nodeKey.address,
      fetch: node.fetcher,
    }).catch((error: unknown) => error);
    // Its word as it always gave it (a bare leaf_not_found, no denial: it frees no nonce), never a 401.
    expect(refused).toBeInstanceOf(NodeRequestError);
    expect((refused as NodeRequestError).status).toBe(404);
    expect(node.reads).toEqual([
      { named: true, status: 401 },
      { named: false, status: 404 },
    ]);
  });
});
