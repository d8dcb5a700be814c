import type { KeptReceipt } from "@atoma/sdk";
import { challengeOrder, provenBySignature } from "@atoma/sdk";
import { describe, expect, it } from "vitest";

const leaf = (leafIndex: bigint, cumulativeUnits: bigint, tag: string) => ({
  receipt: {
    fields: { leafIndex, cumulativeUnits },
    signature: "0x",
    result: "0x",
    adopted: true,
  } as unknown as KeptReceipt,
  reason: tag,
});

/** Review MEDIUM-2: proofs the contract upholds at once, with no bond and outside the per-stack cap. */
describe("challengeOrder: proofs the signature makes alone", () => {
  const settled = { requestCount: 3n, units: 30n };

  it("sends a leaf past the settled count and an over-claim on the last leaf first, whatever the cap", () => {
    const answerable = Array.from({ length: 9 }, (_, k) => leaf(BigInt(k % 2), 5n, `a${k}`));
    const beyond = leaf(3n, 40n, "beyond");
    const overClaim = leaf(2n, 20n, "over");
    const { send, deferred } = challengeOrder([...answerable, beyond, overClaim], 0, settled);
    expect(send.map((l) => l.reason)).toEqual(["beyond", "over"]);
    expect(deferred).toHaveLength(9);
    const roomy = challengeOrder([...answerable, beyond, overClaim], 8, settled);
    expect(roomy.send.slice(0, 2).map((l) => l.reason)).toEqual(["beyond", "over"]);
    // Proofs never take a slot: the bonded ones still get the cap (whole groups: index 0's five, not index 1's four).
    expect(roomy.send.slice(2).map((l) => l.reason)).toEqual(["a0", "a2", "a4", "a6", "a8"]);
  });

  it("tells a proof from a leaf the node must answer", () => {
    expect(provenBySignature({ leafIndex: 3n, cumulativeUnits: 0n }, settled)).toBe(true);
    expect(provenBySignature({ leafIndex: 2n, cumulativeUnits: 29n }, settled)).toBe(true);
    expect(provenBySignature({ leafIndex: 2n, cumulativeUnits: 30n }, settled)).toBe(false);
    expect(provenBySignature({ leafIndex: 1n, cumulativeUnits: 1n }, settled)).toBe(false);
  });
});
