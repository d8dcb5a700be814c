import { evidenceHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { statementBinding } from "../src/index.js";

/** A node's `atoma.attestation` answer: its epoch evidence and its signed statement (the signature is not read). */
function answer(quote: `0x${string}`, servedEpoch: string, statement: { epoch: string; hash: string }) {
  return {
    object: "atoma.attestation",
    freshness: { kind: "epoch", epoch: servedEpoch },
    evidence: { kind: "dev", quote },
    statement: {
      node_id: "7",
      epoch: statement.epoch,
      evidence_hash: statement.hash,
      signature: `0x${"1b".repeat(65)}`,
    },
  };
}

// Review F11: a node serves fabricated evidence beside its honest posted statement (or a statement of another
// epoch): judged by the statement alone, nothing is claimable, so the mismatch must at least be seen.
describe("statementBinding", () => {
  const posted = evidenceHash("dev", "0xabcdef");

  it("finds a statement bound to the evidence and epoch served beside it", () => {
    expect(statementBinding(answer("0xabcdef", "12", { epoch: "12", hash: posted }))).toBeUndefined();
    expect(statementBinding({ object: "atoma.attestation" })).toBeUndefined();
  });

  it("flags fabricated evidence beside the posted statement", () => {
    expect(statementBinding(answer("0xfeedface", "12", { epoch: "12", hash: posted }))).toContain(posted);
  });

  it("flags a statement of another epoch than the evidence's", () => {
    expect(statementBinding(answer("0xabcdef", "13", { epoch: "12", hash: posted }))).toMatch(/epoch 12.*13/);
  });

  it("flags evidence that is no quote", () => {
    expect(statementBinding(answer("0x", "12", { epoch: "12", hash: posted }))).toMatch(/not a quote/);
  });
});
