import { describe, expect, it } from "vitest";
import { TranscriptCache } from "./transcriptCache.js";

const transcript = (n: number) => ({
  bodies: [{ n }],
  reqHashes: [`0x${n.toString(16).padStart(64, "0")}` as const],
});
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;

describe("TranscriptCache", () => {
  it("keeps checked transcripts by stack and blob id, within its bytes, dropping the least recently used", () => {
    const cache = new TranscriptCache(100);
    cache.set(1n, id(1), transcript(1), 40);
    cache.set(2n, id(2), transcript(2), 40);
    expect(cache.get(1n, id(1))).toEqual(transcript(1));
    expect(cache.get(2n, id(1))).toBeUndefined();
    cache.set(3n, id(3), transcript(3), 40);
    expect(cache.get(2n, id(2))).toBeUndefined();
    expect(cache.get(1n, id(1))).toEqual(transcript(1));
    expect(cache.get(3n, id(3))).toEqual(transcript(3));
    cache.set(4n, id(4), transcript(4), 101);
    expect(cache.get(4n, id(4))).toBeUndefined();
    expect(cache.size).toBe(2);
  });
});
