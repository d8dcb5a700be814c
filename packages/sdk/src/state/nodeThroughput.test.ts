import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rankedByThroughput } from "../client/throughputRank.js";
import { fileStateStore } from "../node/fileStateStore.js";
import { NodeThroughput, THROUGHPUT_NODES, THROUGHPUT_WINDOW, throughputKey } from "./nodeThroughput.js";
import { memoryStateStore } from "./stateStore.js";

const place = {
  chainId: 31_337,
  genesis: `0x${"9e".repeat(32)}`,
  stackManager: `0x${"5a".repeat(20)}`,
  owner: `0x${"0b".repeat(20)}`,
};
const offers = [{ nodeId: 1n }, { nodeId: 2n }, { nodeId: 3n }];
const firstOf = async (book: NodeThroughput) => rankedByThroughput(offers, await book.figures())[0]?.nodeId;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("NodeThroughput: the tokens per second a client measured of each node, in its state store", () => {
  it("does not rank a node on one fast first answer once its recent answers are slow", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    await book.record(1n, 400);
    await book.record(2n, 40);
    expect(await firstOf(book)).toBe(1n);
    // Node 1 slows down to a tenth of node 2: two slow answers of three and it is no longer first.
    await book.record(1n, 4);
    await book.record(1n, 4);
    expect(await firstOf(book)).toBe(2n);
    // However fast its first answer, it is gone from the figure after a window of slow ones.
    for (let k = 0; k < THROUGHPUT_WINDOW; k++) await book.record(1n, 4);
    expect((await book.figures()).get(1n)).toBe(4);
  });

  it("ranks measured nodes highest first, the unmeasured after them, and none first when none is measured", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    expect(await book.figures()).toEqual(new Map());
    await book.record(3n, 10);
    await book.record(2n, 30);
    const ranked = rankedByThroughput(offers, await book.figures());
    expect(ranked.map((o) => o.nodeId)).toEqual([2n, 3n, 1n]);
  });

  it("ignores a garbage or hostile stored entry: never throws, never ranks it, and records over it", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    const key = throughputKey(place);
    for (const text of ["not json", "null", "[]", '"x"', "{", '{"nodes":7}', '{"nodes":[]}']) {
      store.set(key, text);
      expect((await book.figures()).size).toBe(0);
    }
    const hostile = JSON.stringify({
      nodes: {
        "1": { at: 1, samples: [1e300] }, // past any engine: refused, not ranked first
        "2": { at: 1, samples: [Number.NaN] },
        "3": { at: 1, samples: [-5] },
        "4": { at: 1, samples: "fast" },
        "5": { at: 1, samples: Array.from({ length: 10_000 }, () => 50) },
        "-6": { at: 1, samples: [60] },
        "0x7": { at: 1, samples: [70] },
        ["9".repeat(200)]: { at: 1, samples: [80] },
        "8": { at: "now", samples: [100] },
        "9": null,
        "10": { at: 1, samples: [] },
        "11": { at: 1, samples: [20] },
      },
    });
    // A key that JSON.parse makes an own property of that name, not the object's prototype.
    store.set(key, hostile.replace('{"nodes":{', '{"nodes":{"__proto__":{"at":1,"samples":[90]},'));
    const figures = await book.figures();
    expect([...figures]).toEqual([[11n, 20]]);
    // Node 1's stored 1e300 tokens per second does not put it ahead of node 11's 20.
    expect(rankedByThroughput([{ nodeId: 1n }, { nodeId: 11n }], figures).map((o) => o.nodeId)).toEqual([
      11n,
      1n,
    ]);
    await book.record(1n, 25);
    expect(await book.figures()).toEqual(
      new Map([
        [11n, 20],
        [1n, 25],
      ]),
    );
  });

  it("keeps a bounded window per node and a bounded number of nodes, dropping the least recently measured", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    for (let k = 0; k < THROUGHPUT_WINDOW * 3; k++) await book.record(1n, 10 + k);
    for (let n = 2; n < THROUGHPUT_NODES + 40; n++) await book.record(BigInt(n), n);
    const stored = JSON.parse((await store.get(throughputKey(place)))!) as {
      nodes: Record<string, { samples: number[] }>;
    };
    expect(Object.keys(stored.nodes)).toHaveLength(THROUGHPUT_NODES);
    expect(stored.nodes["1"]).toBeUndefined();
    expect(Object.values(stored.nodes).every((e) => e.samples.length <= THROUGHPUT_WINDOW)).toBe(true);
    expect((await book.figures()).get(BigInt(THROUGHPUT_NODES + 39))).toBe(THROUGHPUT_NODES + 39);
  });

  it("ignores a figure that is no measure (zero, negative, not finite) without writing anything", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    for (const tps of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) await book.record(1n, tps);
    expect(await store.get(throughputKey(place))).toBeUndefined();
  });

  it("survives a restart in a file store, is shared by clients over one store, and is kept per owner and chain", async () => {
    const dir = mkdtempSync(join(tmpdir(), "atoma-throughput-"));
    dirs.push(dir);
    const first = new NodeThroughput(fileStateStore(dir), place);
    const second = new NodeThroughput(fileStateStore(dir), place);
    await Promise.all([first.record(1n, 10), second.record(2n, 20), first.record(3n, 30)]);
    const restarted = new NodeThroughput(fileStateStore(dir), place);
    expect(await restarted.figures()).toEqual(
      new Map([
        [1n, 10],
        [2n, 20],
        [3n, 30],
      ]),
    );
    const other = new NodeThroughput(fileStateStore(dir), { ...place, owner: `0x${"0c".repeat(20)}` });
    expect((await other.figures()).size).toBe(0);
    const otherChain = new NodeThroughput(fileStateStore(dir), { ...place, genesis: `0x${"77".repeat(32)}` });
    expect((await otherChain.figures()).size).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    expect(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".json"))!), "utf8")).toContain(
      '"samples"',
    );
  });
});
