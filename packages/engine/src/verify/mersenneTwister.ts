/**
 * std::mt19937 and libstdc++'s `std::uniform_real_distribution<double>(0, 1)`, the random source of llama.cpp's
 * `dist` sampler. Reproducing it lets a verifier know which uniform draw chose each sampled token.
 */
export class Mt19937 {
  readonly #state = new Uint32Array(624);
  #index = 624;

  constructor(seed: number) {
    this.#state[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const previous = this.#state[i - 1]! ^ (this.#state[i - 1]! >>> 30);
      // 1812433253 * previous + i, modulo 2^32, without losing bits to float rounding.
      this.#state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
  }

  #twist(): void {
    const mt = this.#state;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i]! & 0x8000_0000) | (mt[(i + 1) % 624]! & 0x7fff_ffff);
      let next = mt[(i + 397) % 624]! ^ (y >>> 1);
      if (y & 1) next ^= 0x9908_b0df;
      mt[i] = next >>> 0;
    }
    this.#index = 0;
  }

  nextUint32(): number {
    if (this.#index >= 624) this.#twist();
    let y = this.#state[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * libstdc++'s generate_canonical<double, 53> over a 32-bit engine: two draws, low word first, summed in
   * double precision and scaled by 2^-64 (clamped below 1).
   */
  nextCanonical(): number {
    const low = this.nextUint32();
    const high = this.nextUint32();
    const value = (low + high * 4294967296) / 2 ** 64;
    return value >= 1 ? 1 - 2 ** -53 : value;
  }
}
