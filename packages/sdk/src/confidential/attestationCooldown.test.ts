import { describe, expect, it } from "vitest";
import { ClientArgumentError } from "../errors.js";
import { AttestationCooldown } from "./attestationCooldown.js";
import type { AttestationVerdict } from "./attestationVerdict.js";
import { confidentialOptionsOf } from "./confidentialOptions.js";

const verdict = (nodeId: bigint): AttestationVerdict => ({
  ok: false,
  nodeId,
  kind: undefined,
  insecure: false,
  label: undefined,
  encryptionPublicKey: undefined,
  transient: true,
  checks: [],
  failures: ["attestation_unreachable"],
  checkedAt: new Date(0),
});

describe("AttestationCooldown", () => {
  it("doubles the wait with each failure in a row, up to the cap, and forgets a node that passes", () => {
    const cooldown = new AttestationCooldown({ firstMs: 1_000, maxMs: 5_000 });
    const waits = [0, 1, 2, 3, 4].map(() => cooldown.cool(verdict(7n), 0).getTime());
    expect(waits).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(cooldown.waiting(4_999).map((w) => w.nodeId)).toEqual([7n]);
    expect(cooldown.waiting(5_000)).toEqual([]);
    cooldown.forget(7n);
    expect(cooldown.cool(verdict(7n), 0).getTime()).toBe(1_000);
  });

  it("keeps each node's wait apart", () => {
    const cooldown = new AttestationCooldown({ firstMs: 100 });
    cooldown.cool(verdict(1n), 0);
    cooldown.cool(verdict(1n), 0);
    cooldown.cool(verdict(2n), 0);
    expect(cooldown.waiting(150).map((w) => w.nodeId)).toEqual([1n]);
  });
});

describe("confidential options", () => {
  it("takes a GPU key set and retry delays, and refuses malformed ones", () => {
    const jwks = { keys: [{ kty: "EC", crv: "P-384", x: "x", y: "y" }] };
    expect(confidentialOptionsOf({ gpu: { jwks, required: true }, attestationRetryMs: 10 })).toMatchObject({
      gpu: { required: true },
    });
    expect(confidentialOptionsOf({ minTcbEvaluationDataNumber: 18 })).toMatchObject({
      minTcbEvaluationDataNumber: 18,
    });
    for (const bad of [
      { gpu: { jwks: { keys: [] } } },
      { gpu: { jwks: {} } },
      { gpu: { jwks, required: "yes" } },
      { gpu: { jwks, issuer: 5 } },
      { attestationRetryMs: 0 },
      { maxAttestationRetryMs: -1 },
      { minTcbEvaluationDataNumber: 0 },
      { minTcbEvaluationDataNumber: 17.5 },
      { minTcbEvaluationDataNumber: "18" },
    ])
      expect(() => confidentialOptionsOf(bad)).toThrow(ClientArgumentError);
  });
});
