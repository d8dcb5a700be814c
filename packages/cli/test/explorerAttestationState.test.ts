import { describe, expect, it } from "vitest";
import {
  attestationKindOf,
  attestationState,
  type NodeAttestation,
} from "../../../apps/explorer/src/chain/attestationState.js";

const record = (kind: NodeAttestation["kind"], expiresAt: bigint): NodeAttestation => ({
  kind,
  measurement: `0x${"ab".repeat(32)}`,
  encryptionKey: `0x${"cd".repeat(32)}`,
  evidenceHash: `0x${"ef".repeat(32)}`,
  epoch: 3n,
  expiresAt,
});

/** What the network page says of a node's AttestationRegistry record, against the chain's clock. */
describe("the explorer's attestationState", () => {
  it("labels the development kind insecure, TDX as such, and a node with no record as not attested", () => {
    expect(attestationState(record("dev", 2_000n), 1_000n)).toMatchObject({
      state: "current",
      label: "insecure, development",
    });
    // The kind is the node's own word: the chain never verified the quote, so nothing here says "valid".
    expect(attestationState(record("tdx", 2_000n), 1_000n)).toMatchObject({
      state: "current",
      label: "Intel TDX, declared (not verified on-chain)",
    });
    expect(attestationState(undefined, 1_000n)).toEqual({
      state: "missing",
      label: "not attested",
      record: undefined,
    });
  });

  it("calls a record expired from the second the chain's clock reaches its expiry", () => {
    expect(attestationState(record("dev", 1_000n), 999n).state).toBe("current");
    expect(attestationState(record("dev", 1_000n), 1_000n)).toMatchObject({
      state: "expired",
      label: "expired (insecure, development)",
    });
    expect(attestationState(record("tdx", 1_000n), 5_000n).label).toBe(
      "expired (Intel TDX, declared (not verified on-chain))",
    );
  });

  it("reads the registry's kind values: 0 none, 1 TDX, 2 development", () => {
    expect([0, 1, 2, 3].map(attestationKindOf)).toEqual([undefined, "tdx", "dev", undefined]);
  });
});
