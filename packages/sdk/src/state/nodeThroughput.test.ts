import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rankedByThroughput } from "../client/throughputRank.js";
import { fileStateStore } from "../node/fileStateStore.js";
import {
  NodeThroughput,
  THROUGHPUT_ENTRIES,
  THROUGHPUT_MAX_AGE_MS,
  THROUGHPUT_WINDOW,
  throughputKey,
} from "./nodeThroughput.js";
import { memoryStateStore } from "./stateStore.js";

const place = {
  chainId: 31_337,
  genesis: `0x${"9e".repeat(32)}`,
  stackManager: `0x${"5a".repeat(20)}`,
  owner: `0x${"0b".repeat(20)}`,
};
const M = "tiny-model";
const offers = [{ nodeId: 1n }, { nodeId: 2n }, { nodeId: 3n }];
const firstOf = async (book: NodeThroughput) => rankedByThroughput(offers, await book.figures(M))[0]?.nodeId;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("NodeThroughput: the bytes per second a client measured of each node, per model, in its state store", () => {
  it("does not rank a node on one fast first answer once its recent answers are slow", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    await book.record(1n, M, 400);
    await book.record(2n, M, 40);
    expect(await firstOf(book)).toBe(1n);
    // Node 1 slows down to a tenth of node 2: one slow answer of two and it is no longer first.
    await book.record(1n, M, 4);
    expect(await firstOf(book)).toBe(2n);
    // However fast its first answer, it is gone from the figure after a window of slow ones.
    for (let k = 0; k < THROUGHPUT_WINDOW; k++) await book.record(1n, M, 4);
    expect((await book.figures(M)).get(1n)).toBe(4);
  });

  it("takes the second-lowest of five: a node slow two answers in five is slow, one slow answer in five is not", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    for (const bps of [100, 100, 100, 5, 5]) await book.record(1n, M, bps);
    expect((await book.figures(M)).get(1n)).toBe(5);
    for (const bps of [100, 100, 100, 5, 100]) await book.record(2n, M, bps);
    expect((await book.figures(M)).get(2n)).toBe(100);
  });

  it("keeps figures per model: a node fast on a small model is not ranked by it on another", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    await book.record(1n, "small", 900);
    await book.record(2n, "large", 30);
    await book.record(1n, "large", 10);
    expect(await book.figures("small")).toEqual(new Map([[1n, 900]]));
    expect(await book.figures("large")).toEqual(
      new Map([
        [2n, 30],
        [1n, 10],
      ]),
    );
    expect((await book.figures("other")).size).toBe(0);
  });

  it("forgets a figure not measured for a day: the node counts as not measured again", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    const then = Date.now() - THROUGHPUT_MAX_AGE_MS - 1_000;
    await book.record(1n, M, 500, then);
    await book.record(2n, M, 50);
    expect(await book.figures(M)).toEqual(new Map([[2n, 50]]));
    expect((await book.figures(M, then)).get(1n)).toBe(500);
  });

  it("starts a node's window afresh once its entry is older than a day: week-old fast answers do not carry it", async () => {
    const book = new NodeThroughput(memoryStateStore(), place);
    const lastWeek = Date.now() - 7 * THROUGHPUT_MAX_AGE_MS;
    for (let i = 0; i < THROUGHPUT_WINDOW - 1; i++) await book.record(1n, M, 1_000, lastWeek + i);
    await book.record(1n, M, 10);
    expect(await book.figures(M)).toEqual(new Map([[1n, 10]]));
  });

  it("keeps an entry dated far ahead (another client's clock) when it rewrites the store, but does not rank it", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    const now = Date.now();
    const ahead = { model: M, node: "1", at: now + 10 * 60_000, samples: [10] };
    store.set(throughputKey(place), JSON.stringify({ entries: [ahead] }));
    await book.record(2n, M, 20, now);
    expect(await book.figures(M, now)).toEqual(new Map([[2n, 20]]));
    const kept = JSON.parse((await store.get(throughputKey(place)))!).entries as {
      node: string;
      at: number;
    }[];
    expect(kept.find((e) => e.node === "1")?.at).toBe(ahead.at);
    // Seen from a clock that has caught up, it ranks.
    expect((await book.figures(M, ahead.at)).get(1n)).toBe(10);
  });

  it("does not rank a stored time far in the future: it neither stays the newest nor stops later records being kept", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    const poisoned = { model: M, node: "1", at: Number.MAX_SAFE_INTEGER, samples: [10] };
    store.set(throughputKey(place), JSON.stringify({ entries: [poisoned] }));
    expect((await book.figures(M)).size).toBe(0);
    await book.record(2n, M, 20);
    await book.record(2n, M, 30);
    expect(await book.figures(M)).toEqual(new Map([[2n, 20]]));
    // A time a few seconds ahead (another client's clock) is kept.
    store.set(throughputKey(place), JSON.stringify({ entries: [{ ...poisoned, at: Date.now() + 5_000 }] }));
    await book.record(2n, M, 40);
    expect(await book.figures(M)).toEqual(
      new Map([
        [1n, 10],
        [2n, 40],
      ]),
    );
  });

  it("ignores a garbage or hostile stored entry: never throws, never ranks it, and records over it", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    const key = throughputKey(place);
    for (const text of ["not json", "null", "[]", '"x"', "{", '{"entries":7}', '{"entries":{}}']) {
      store.set(key, text);
      expect((await book.figures(M)).size).toBe(0);
    }
    const entry = (node: unknown, samples: unknown, more: Record<string, unknown> = {}) => ({
      model: M,
      node,
      at: 1,
      samples,
      ...more,
    });
    const hostile = JSON.stringify({
      entries: [
        entry("1", [1e300]), // past any engine: refused, not ranked first
        entry("2", [Number.NaN]),
        entry("3", [-5]),
        entry("4", "fast"),
        entry(
          "5",
          Array.from({ length: 10_000 }, () => 50),
        ),
        entry("-6", [60]),
        entry("0x7", [70]),
        entry("9".repeat(200), [80]),
        entry("8", [100], { at: "now" }),
        entry("12", [100], { model: 12 }),
        entry("13", [100], { model: "m".repeat(300) }),
        entry("__proto__", [90]),
        null,
        entry("10", []),
        entry("11", [20]),
      ],
    });
    store.set(key, hostile);
    const figures = await book.figures(M, 2);
    expect([...figures]).toEqual([[11n, 20]]);
    // Node 1's stored 1e300 bytes per second does not put it ahead of node 11's 20.
    expect(rankedByThroughput([{ nodeId: 1n }, { nodeId: 11n }], figures).map((o) => o.nodeId)).toEqual([
      11n,
      1n,
    ]);
    await book.record(1n, M, 25, 3);
    expect(await book.figures(M, 4)).toEqual(
      new Map([
        [11n, 20],
        [1n, 25],
      ]),
    );
  });

  it("keeps a bounded window per node and a bounded number of entries, dropping the least recently measured", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    for (let k = 0; k < THROUGHPUT_WINDOW * 3; k++) await book.record(1n, M, 10 + k);
    for (let n = 2; n < THROUGHPUT_ENTRIES + 40; n++) await book.record(BigInt(n), M, n);
    const stored = JSON.parse((await store.get(throughputKey(place)))!) as {
      entries: { node: string; samples: number[] }[];
    };
    expect(stored.entries).toHaveLength(THROUGHPUT_ENTRIES);
    expect(stored.entries.find((e) => e.node === "1")).toBeUndefined();
    expect(stored.entries.every((e) => e.samples.length <= THROUGHPUT_WINDOW)).toBe(true);
    expect((await book.figures(M)).get(BigInt(THROUGHPUT_ENTRIES + 39))).toBe(THROUGHPUT_ENTRIES + 39);
  });

  it("ignores a figure that is no measure (zero, negative, not finite) without writing anything", async () => {
    const store = memoryStateStore();
    const book = new NodeThroughput(store, place);
    for (const bps of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) await book.record(1n, M, bps);
    await book.record(1n, "", 10);
    expect(await store.get(throughputKey(place))).toBeUndefined();
  });

  it("survives a restart in a file store, is shared by clients over one store, and is kept per owner and chain", async () => {
    const dir = mkdtempSync(join(tmpdir(), "atoma-throughput-"));
    dirs.push(dir);
    const first = new NodeThroughput(fileStateStore(dir), place);
    const second = new NodeThroughput(fileStateStore(dir), place);
    await Promise.all([first.record(1n, M, 10), second.record(2n, M, 20), first.record(3n, M, 30)]);
    const restarted = new NodeThroughput(fileStateStore(dir), place);
    expect(await restarted.figures(M)).toEqual(
      new Map([
        [1n, 10],
        [2n, 20],
        [3n, 30],
      ]),
    );
    const other = new NodeThroughput(fileStateStore(dir), { ...place, owner: `0x${"0c".repeat(20)}` });
    expect((await other.figures(M)).size).toBe(0);
    const otherChain = new NodeThroughput(fileStateStore(dir), { ...place, genesis: `0x${"77".repeat(32)}` });
    expect((await otherChain.figures(M)).size).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    expect(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".json"))!), "utf8")).toContain(
      '"samples"',
    );
  });
});
