import { describe, expect, it } from "vitest";
import type { CatalogNode } from "../src/network/catalog.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { parseProviderPreferences } from "../src/routing/providerPreferences.js";
import { rankNodes } from "../src/routing/rankNodes.js";

const node = (id: number, pricePerMillion: bigint, reputation = 50): CatalogNode => ({
  nodeId: BigInt(id),
  url: `http://node-${id}`,
  signer: `0x${String(id).padStart(40, "0")}`,
  pricePerMillion,
  reputation,
});
const ids = (nodes: CatalogNode[]) => nodes.map((n) => Number(n.nodeId));
const prefs = parseProviderPreferences;

describe("routing among the nodes serving a model", () => {
  it("spreads 32 concurrent requests over equal nodes instead of piling them on the cheapest", () => {
    const book = new NodeHealthBook();
    // Node 1 is a little cheaper: the public proxy's failure was to send everything there.
    const nodes = [node(1, 990n), node(2, 1_000n), node(3, 1_000n), node(4, 1_000n)];
    const claims = Array.from({ length: 32 }, () => book.claim(rankNodes(nodes, prefs({}), book)[0]!.nodeId));
    const perNode = new Map<number, number>();
    for (const claim of claims)
      perNode.set(Number(claim.nodeId), (perNode.get(Number(claim.nodeId)) ?? 0) + 1);
    expect(perNode.size).toBe(4);
    for (const count of perNode.values()) expect(count).toBeGreaterThanOrEqual(6);
    expect(perNode.get(1)).toBeLessThanOrEqual(10);
    for (const claim of claims) claim.end();
    expect(book.observation(1n).inFlight).toBe(0);
  });

  it("weighs a node's own queue, its uptime, its measured speed and its reputation", () => {
    const nodes = [node(1, 1_000n), node(2, 1_000n)];
    const queued = new NodeHealthBook();
    queued.checked(1n, true, 20);
    expect(ids(rankNodes(nodes, prefs({}), queued))[0]).toBe(2);
    const flaky = new NodeHealthBook();
    for (let i = 0; i < 5; i++) flaky.checked(2n, i % 2 === 0);
    expect(ids(rankNodes(nodes, prefs({}), flaky))[0]).toBe(1);
    const slow = new NodeHealthBook();
    slow.served(1n, 900, 10);
    slow.served(2n, 100, 80);
    expect(ids(rankNodes(nodes, prefs({}), slow))[0]).toBe(2);
    const reputed = new NodeHealthBook();
    expect(ids(rankNodes([node(1, 1_000n, 0), node(2, 1_000n, 100)], prefs({}), reputed))[0]).toBe(2);
  });

  it("sorts by price, latency or throughput when asked, load aside", () => {
    const book = new NodeHealthBook();
    const nodes = [node(1, 3_000n), node(2, 1_000n), node(3, 2_000n)];
    book.served(1n, 50, 10);
    book.served(2n, 500, 100);
    book.served(3n, 200, 300);
    for (let i = 0; i < 10; i++) book.claim(2n);
    expect(ids(rankNodes(nodes, prefs({ sort: "price" }), book))).toEqual([2, 3, 1]);
    expect(ids(rankNodes(nodes, prefs({ sort: "latency" }), book))).toEqual([1, 3, 2]);
    expect(ids(rankNodes(nodes, prefs({ sort: "throughput" }), book))).toEqual([3, 2, 1]);
  });

  it("honours only, ignore, max_price, order and allow_fallbacks", () => {
    const book = new NodeHealthBook();
    const nodes = [node(1, parseEther1(1)), node(2, parseEther1(2)), node(3, parseEther1(3))];
    expect(ids(rankNodes(nodes, prefs({ only: ["2", "3", "99"] }), book)).sort()).toEqual([2, 3]);
    expect(ids(rankNodes(nodes, prefs({ ignore: [1, 2] }), book))).toEqual([3]);
    expect(ids(rankNodes(nodes, prefs({ max_price: 2 }), book)).sort()).toEqual([1, 2]);
    expect(ids(rankNodes(nodes, prefs({ order: ["3", "1"] }), book)).slice(0, 2)).toEqual([3, 1]);
    expect(ids(rankNodes(nodes, prefs({ order: ["3", "1"], allow_fallbacks: false }), book))).toEqual([3, 1]);
    expect(rankNodes(nodes, prefs({ allow_fallbacks: false }), book)).toHaveLength(1);
    expect(rankNodes(nodes, prefs({ max_price: 0.5 }), book)).toEqual([]);
  });

  it("puts a failing node aside for its cooldown, and one with a bad receipt out of rotation for good", () => {
    let now = 1_000;
    const book = new NodeHealthBook(() => now);
    const nodes = [node(1, 1_000n), node(2, 1_000n)];
    book.coolDown(1n, 30_000);
    for (let i = 0; i < 10; i++) expect(ids(rankNodes(nodes, prefs({}), book))).toEqual([2]);
    // Asked for by name, a cooling node is still not tried while another is ready.
    expect(ids(rankNodes(nodes, prefs({ order: ["1"] }), book))).toEqual([2]);
    now += 30_001;
    expect(ids(rankNodes(nodes, prefs({}), book)).sort()).toEqual([1, 2]);
    book.remove(2n, "response_unverified");
    now += 10 ** 9;
    expect(ids(rankNodes(nodes, prefs({ only: ["2"] }), book))).toEqual([]);
    expect(ids(rankNodes(nodes, prefs({}), book))).toEqual([1]);
  });

  it("still tries cooling nodes when every node is cooling (rather than refusing every request)", () => {
    const book = new NodeHealthBook(() => 0);
    const nodes = [node(1, 1_000n), node(2, 1_000n)];
    book.coolDown(1n, 30_000);
    book.coolDown(2n, 30_000);
    expect(rankNodes(nodes, prefs({}), book)).toHaveLength(2);
  });
});

function parseEther1(toma: number): bigint {
  return BigInt(toma) * 10n ** 18n;
}
