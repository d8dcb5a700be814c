import { type Hash, LEAF_READ_MAX_AHEAD_SECONDS } from "@atoma/core";
import { LeafReadReplayedError, LeafReadsCrowdedError } from "./errors.js";

/** The reads whose deadline is one second, to forget together once it passes. */
interface DeadlineSlot {
  second: bigint;
  reads: { stackId: bigint; digest: Hash }[];
}

/**
 * The signed leaf reads this node answered, each until its deadline passes (a read is refused past it anyway):
 * a captured read replayed is refused (`LeafReadReplayedError`). In memory, bounded per stack
 * (`LeafReadsCrowdedError`, with the seconds until a room frees, when a stack holds `perStack` reads still within
 * their deadlines): one owner signing reads as fast as it can crowds only its own stack. Reads are forgotten a
 * whole deadline second at a time from a ring of seconds (deadlines lie at most `LEAF_READ_MAX_AHEAD_SECONDS`
 * ahead), so a claim costs O(1) amortised. A restart forgets reads that could be replayed for those minutes, and
 * a replay shows only the leaf already shown.
 */
export class LeafReadGuard {
  readonly #perStack: number;
  /** Stack → digest of each signed read answered → its deadline (unix seconds). */
  readonly #stacks = new Map<bigint, Map<Hash, bigint>>();
  readonly #slots: (DeadlineSlot | undefined)[];
  /** Every deadline second below this one is forgotten. */
  #swept: bigint | undefined;

  constructor(perStack = 32) {
    this.#perStack = perStack;
    this.#slots = new Array(LEAF_READ_MAX_AHEAD_SECONDS + 2);
  }

  /** Records the read `digest` (signature checked) of `stackId` as answered; throws if it was, or if no room is left. */
  claim(stackId: bigint, digest: Hash, deadline: bigint, nowSeconds: bigint): void {
    this.#sweep(nowSeconds);
    const reads = this.#stacks.get(stackId) ?? new Map<Hash, bigint>();
    if (reads.has(digest)) throw new LeafReadReplayedError();
    if (deadline < nowSeconds) return;
    if (deadline - nowSeconds >= BigInt(this.#slots.length - 1))
      throw new RangeError(`a leaf read's deadline lies more than ${LEAF_READ_MAX_AHEAD_SECONDS} s ahead`);
    if (reads.size >= this.#perStack) {
      let earliest = deadline;
      for (const held of reads.values()) if (held < earliest) earliest = held;
      throw new LeafReadsCrowdedError(Number(earliest + 1n - nowSeconds));
    }
    reads.set(digest, deadline);
    this.#stacks.set(stackId, reads);
    const at = Number(deadline % BigInt(this.#slots.length));
    const slot = this.#slots[at];
    if (slot?.second === deadline) slot.reads.push({ stackId, digest });
    else this.#slots[at] = { second: deadline, reads: [{ stackId, digest }] };
  }

  /** Forgets the reads of every deadline second below `nowSeconds`. */
  #sweep(nowSeconds: bigint): void {
    const from = this.#swept ?? nowSeconds;
    this.#swept = nowSeconds > from ? nowSeconds : from;
    const size = BigInt(this.#slots.length);
    const to = nowSeconds - from > size ? from + size : nowSeconds;
    for (let second = from; second < to; second++) {
      const at = Number(second % size);
      const slot = this.#slots[at];
      if (!slot || slot.second >= nowSeconds) continue;
      this.#slots[at] = undefined;
      for (const { stackId, digest } of slot.reads) {
        const reads = this.#stacks.get(stackId);
        reads?.delete(digest);
        if (reads?.size === 0) this.#stacks.delete(stackId);
      }
    }
  }
}
