import { type Hex, keccak256, stringToBytes } from "viem";

/** A seeded pseudo-random stream (mulberry32): every choice the simulator makes draws from one of these. */
export class SeededRandom {
  #state: number;

  constructor(seed: number | string) {
    const digest = keccak256(stringToBytes(`atoma-simulate:${seed}`));
    this.#state = Number.parseInt(digest.slice(2, 10), 16) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `items` in a seeded random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** A private key derived from the run's seed and a label, so the same seed gives the same accounts. */
export function seededPrivateKey(seed: number, label: string): Hex {
  return keccak256(stringToBytes(`atoma-simulate-key:${seed}:${label}`));
}
