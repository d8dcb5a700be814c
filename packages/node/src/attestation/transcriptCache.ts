import type { Hash } from "@atoma/core";

/** A transcript fetched, hash-checked and signature-checked once: every request body and its hash, in order. */
export interface CheckedTranscript {
  bodies: unknown[];
  reqHashes: Hash[];
}

/**
 * The transcripts this node has already fetched and checked, by stack and blob id, so a duty retried (or a
 * committee duty on the same stack) does not download and verify them again. Bounded by the bytes they came
 * from; the least recently used go first.
 */
export class TranscriptCache {
  readonly #entries = new Map<string, { transcript: CheckedTranscript; bytes: number }>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(stackId: bigint, transcriptId: Hash): CheckedTranscript | undefined {
    const key = `${stackId}:${transcriptId}`;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.transcript;
  }

  set(stackId: bigint, transcriptId: Hash, transcript: CheckedTranscript, bytes: number): void {
    if (bytes > this.#maxBytes) return;
    const key = `${stackId}:${transcriptId}`;
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.bytes;
      this.#entries.delete(key);
    }
    this.#entries.set(key, { transcript, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
