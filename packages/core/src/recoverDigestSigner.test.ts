import { type Hex, keccak256, recoverAddress, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nativeSecp256k1 } from "./nativeSecp256k1.js";
import { recoverDigestSigner } from "./recoverDigestSigner.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
const word = (value: bigint) => value.toString(16).padStart(64, "0");
const signer = privateKeyToAccount(generatePrivateKey());

/** The outcome of a recovery: the address, or that it threw. */
const outcome = (recovering: () => Promise<string>) =>
  recovering().then(
    (address) => ({ address }),
    () => ({ threw: true }),
  );
const viemOf = (hash: Hex, signature: Hex) => outcome(() => recoverAddress({ hash, signature }));
const ourOf = (hash: Hex, signature: Hex) => outcome(() => recoverDigestSigner(hash, signature));

/** Its parts: r, s, v as numbers. */
function parts(signature: Hex) {
  return {
    r: BigInt(`0x${signature.slice(2, 66)}`),
    s: BigInt(`0x${signature.slice(66, 130)}`),
    v: Number.parseInt(signature.slice(130), 16),
  };
}
const compose = (r: bigint, s: bigint, v: number) =>
  `0x${word(r)}${word(s)}${v.toString(16).padStart(2, "0")}` as Hex;

/** Crafted signatures over `hash`, from a real one: every way a receipt's signature can be bent. */
async function crafted(hash: Hex): Promise<Hex[]> {
  const good = await signer.sign({ hash });
  const { r, s, v } = parts(good);
  const flipped = v === 27 ? 28 : 27;
  return [
    good,
    compose(r, s, v - 27), // yParity form
    compose(r, s, flipped), // wrong recovery bit
    compose(r, s, flipped - 27),
    compose(r, N - s, flipped), // malleated: high s with the bit flipped
    compose(r, N - s, v), // high s, bit kept
    compose(r, s, 2),
    compose(r, s, 29),
    compose(r, s, 0xff),
    compose(0n, s, v),
    compose(r, 0n, v),
    compose(N, s, v),
    compose(r, N, v),
    compose(N + r, s, v),
    compose(r, N + s, v),
    compose(N - 1n, N - 1n, v),
    compose(1n, 1n, v),
    compose(5n, s, v), // x = 5 is on no point of the curve
    compose(P - 1n, s, v),
    compose((1n << 256n) - 1n, s, v),
    good.toUpperCase().replace("0X", "0x") as Hex,
    good.slice(0, -2) as Hex,
    `${good}00` as Hex,
    "0x" as Hex,
    `0x${"zz".repeat(65)}` as Hex,
    "not hex" as Hex,
  ];
}

describe("recovering a signer with libsecp256k1, against viem", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("loads the native bindings here (the differential below would compare viem with itself otherwise)", () => {
    expect(nativeSecp256k1()).not.toBeNull();
  });

  it("gives viem's answer for real signatures over random digests, and for every crafted bend of them", async () => {
    let agreed = 0;
    for (let i = 0; i < 40; i++) {
      const hash = keccak256(toHex(`digest ${i}`));
      for (const signature of await crafted(hash)) {
        const [viem, ours] = await Promise.all([viemOf(hash, signature), ourOf(hash, signature)]);
        expect(ours, signature).toEqual(viem);
        agreed++;
      }
    }
    expect(agreed).toBe(40 * 26);
  });

  it("recovers the signer from its own signature, and not from a wrong recovery bit", async () => {
    const hash = keccak256(toHex("receipt"));
    const good = await signer.sign({ hash });
    const { r, s, v } = parts(good);
    expect(await recoverDigestSigner(hash, good)).toBe(signer.address);
    expect(await recoverDigestSigner(hash, compose(r, s, v === 27 ? 28 : 27))).not.toBe(signer.address);
    // Recovery alone does not tell a malleated (high-s) signature from the original: as in viem.
    expect(await recoverDigestSigner(hash, compose(r, N - s, v === 27 ? 28 : 27))).toBe(signer.address);
  });

  it("random 65-byte strings: the same answer or the same refusal as viem", async () => {
    for (let i = 0; i < 200; i++) {
      const hash = keccak256(toHex(`random ${i}`));
      const signature =
        `0x${keccak256(toHex(i)).slice(2)}${keccak256(toHex(`s ${i}`)).slice(2)}${["1b", "1c", "00", "01"][i % 4]}` as Hex;
      expect(await ourOf(hash, signature)).toEqual(await viemOf(hash, signature));
    }
  });

  it("falls back to viem when the native bindings are turned off", async () => {
    vi.stubEnv("ATOMA_NATIVE_SECP256K1", "0");
    vi.resetModules();
    const fresh = await import("./nativeSecp256k1.js");
    const recovering = await import("./recoverDigestSigner.js");
    expect(fresh.nativeSecp256k1()).toBeNull();
    const hash = keccak256(toHex("fallback"));
    for (const signature of await crafted(hash))
      expect(await outcome(() => recovering.recoverDigestSigner(hash, signature))).toEqual(
        await viemOf(hash, signature),
      );
  });
});
