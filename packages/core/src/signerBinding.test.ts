import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { recoverSignerBinding, signerBindingDigest, signSignerBinding } from "./signerBinding.js";

const key = privateKeyToAccount(`0x${"11".repeat(32)}`);
const fields = {
  chainId: 31337,
  registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  operator: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
} as const;

describe("signer binding", () => {
  it("recovers the key that signed it, for that operator, registry and chain only", async () => {
    const proof = await signSignerBinding(key, fields);
    expect(await recoverSignerBinding(fields, proof)).toBe(key.address);
    const squatter = { ...fields, operator: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" } as const;
    expect(await recoverSignerBinding(squatter, proof)).not.toBe(key.address);
    expect(await recoverSignerBinding({ ...fields, chainId: 1 }, proof)).not.toBe(key.address);
    expect(signerBindingDigest(fields)).not.toBe(
      signerBindingDigest({ ...fields, registry: squatter.operator }),
    );
  });
});
