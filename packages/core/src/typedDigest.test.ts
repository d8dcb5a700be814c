import { getAddress, hashTypedData, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { atomaDomain, requestTypes, responseTypes } from "./eip712.js";
import { typedDataDigest } from "./typedDigest.js";

const CONTRACT = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const domain = atomaDomain(31337, CONTRACT);

/** viem's answer or its error, and ours, for the same input. */
function both(
  d: unknown,
  types: typeof requestTypes | typeof responseTypes,
  message: Record<string, unknown>,
) {
  const primaryType = "AtomaRequest" in types ? "AtomaRequest" : "AtomaResponse";
  const run = (f: () => string) => {
    try {
      return { digest: f() };
    } catch (error) {
      return { error: (error as Error).constructor.name };
    }
  };
  const args = { domain: d, types, primaryType, message } as Parameters<typeof hashTypedData>[0];
  return {
    viem: run(() => hashTypedData(args)),
    fast: run(() => typedDataDigest(d as typeof domain, types, primaryType, message)),
  };
}

let seed = 1;
/** A deterministic pseudo-random bigint below 2^bits, biased to the edges half the time. */
function randomBelow(bits: number): bigint {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  const edge = [0n, 1n, (1n << BigInt(bits)) - 1n, (1n << BigInt(bits)) - 2n][seed % 8];
  if (edge !== undefined) return edge;
  return BigInt(keccak256(toHex(seed))) % (1n << BigInt(bits));
}
const hash = () => keccak256(toHex(randomBelow(64)));

describe("EIP-712 digests without viem's per-call encoding", () => {
  it("hashes random requests and responses to viem's digest, across domains used in turn", () => {
    const domains = [
      domain,
      atomaDomain(1, CONTRACT),
      atomaDomain(31337n, getAddress(`0x${"ab".repeat(20)}`)),
    ];
    for (let i = 0; i < 200; i++) {
      const d = domains[i % domains.length]!;
      const request = {
        stackId: randomBelow(256),
        reqHash: hash(),
        nonce: randomBelow(256),
        deadline: randomBelow(64),
        maxUnits: randomBelow(64),
      };
      const response = {
        stackId: randomBelow(256),
        leafIndex: randomBelow(256),
        nonce: randomBelow(256),
        reqHash: hash().toUpperCase().replace("0X", "0x"),
        respHash: hash(),
        units: randomBelow(64),
        cumulativeUnits: randomBelow(64),
        seed: randomBelow(64),
      };
      for (const [types, message] of [
        [requestTypes, request],
        [responseTypes, response],
      ] as const) {
        const { viem, fast } = both(d, types, message);
        expect(viem.digest).toMatch(/^0x[0-9a-f]{64}$/);
        expect(fast).toEqual(viem);
      }
    }
  });

  it("throws where viem throws and answers where viem answers, for values off the fast path", () => {
    const good = { stackId: 1n, reqHash: keccak256("0x01"), nonce: 2n, deadline: 3n, maxUnits: 4n };
    const crafted: Record<string, unknown>[] = [
      { ...good, deadline: 1n << 64n },
      { ...good, maxUnits: -1n },
      { ...good, stackId: 1n << 256n },
      { ...good, nonce: 2 },
      { ...good, nonce: 1.5 },
      { ...good, nonce: "2" },
      { ...good, reqHash: "0x1234" },
      { ...good, reqHash: `0x${"zz".repeat(32)}` },
      { ...good, reqHash: `0x${"00".repeat(33)}` },
      { ...good, reqHash: undefined },
      { stackId: 1n, reqHash: good.reqHash, nonce: 2n, deadline: 3n },
      { ...good, extra: "ignored" },
    ];
    for (const message of crafted) {
      const { viem, fast } = both(domain, requestTypes, message);
      expect(
        fast,
        JSON.stringify(message, (_, v) => (typeof v === "bigint" ? `${v}n` : v)),
      ).toEqual(viem);
    }
  });

  it("refuses a domain viem refuses (a contract address with a wrong checksum), every time", () => {
    const bad = { ...domain, verifyingContract: CONTRACT.toLowerCase().replace("f", "F") as `0x${string}` };
    const message = { stackId: 1n, reqHash: keccak256("0x01"), nonce: 2n, deadline: 3n, maxUnits: 4n };
    for (let i = 0; i < 2; i++) {
      const { viem, fast } = both(bad, requestTypes, message);
      expect(viem.error).toBeDefined();
      expect(fast).toEqual(viem);
    }
    // A domain with a field typed otherwise is a different domain, not a cache hit.
    expect(both({ ...domain, chainId: 31337 }, requestTypes, message).fast).toEqual(
      both({ ...domain, chainId: 31337 }, requestTypes, message).viem,
    );
    expect(both({ ...domain, salt: keccak256("0x02") }, requestTypes, message).fast).toEqual(
      both({ ...domain, salt: keccak256("0x02") }, requestTypes, message).viem,
    );
  });
});
