import {
  atomaDomain,
  decodeTranscript,
  type Hash,
  leafHash,
  requestHash,
  stackRoot,
  transcriptId,
  transcriptLeaves,
  verifyStackProof,
} from "@atoma/core";
import { hexToString, keccak256, stringToBytes } from "viem";
import { describe, expect, it } from "vitest";
import type { SettlementSnapshot } from "../src/accounting/freezeForSettlement.js";
import type { Stack, StoredLeaf } from "../src/accounting/types.js";
import { ConfigError } from "../src/errors.js";
import { cappedFees } from "../src/service/feeCaps.js";
import { buildSettlement, EMPTY_ROOT } from "../src/settlement/buildSettlement.js";
import { SettlementStateError } from "../src/settlement/errors.js";
import { postedRequestsOf, revealOf } from "../src/settlement/sampledEntries.js";
import { settlementAddresses } from "../src/settlement/settlementContracts.js";
import { settlementReason } from "../src/settlement/settlementReason.js";

const STACKS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

const stack = (overrides: Partial<Stack> = {}): Stack => ({
  stackId: 9n,
  owner: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  taskId: 1n,
  servingNodeId: 3n,
  unitsBought: 1_000n,
  unitsReserved: 0n,
  unitsUsed: 0n,
  leafCount: 0n,
  pricePerMillion: 1n,
  expiresAt: 10_000n,
  state: "active",
  ...overrides,
});

function leaves(count: number): StoredLeaf[] {
  return Array.from({ length: count }, (_, k) => {
    const body = { model: "tiny", prompt: `p${k}` };
    const reqHash = requestHash(body);
    const respHash: Hash = keccak256(stringToBytes(`r${k}`));
    const leaf = {
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash,
      respHash,
      units: 10n,
      cumulativeUnits: 10n * BigInt(k + 1),
    };
    return {
      stackId: 9n,
      ...leaf,
      leafHash: leafHash(leaf),
      seed: BigInt(k),
      request: {
        body,
        nonce: String(k),
        deadline: "2000000000",
        max_units: "4096",
        signature: `0x${"11".repeat(65)}`,
      },
      response: null,
    };
  });
}

const snapshot = (stored: StoredLeaf[]): SettlementSnapshot => ({
  stack: stack(),
  leaves: stored,
  unitsClaimed: 10n * BigInt(stored.length),
});

describe("when a stack is due for settlement", () => {
  const triggers = { minRemainingUnits: 0, beforeExpirySeconds: 300 };

  it("settles a used-up stack, one under the remaining-units floor, and one about to expire", () => {
    expect(settlementReason(stack({ unitsUsed: 1_000n }), 0n, triggers)).toBe("exhausted");
    expect(settlementReason(stack({ unitsUsed: 950n }), 0n, { ...triggers, minRemainingUnits: 100 })).toBe(
      "exhausted",
    );
    expect(settlementReason(stack(), 9_700n, triggers)).toBe("expiring");
    expect(settlementReason(stack({ unitsUsed: 999n }), 9_699n, triggers)).toBeUndefined();
  });
});

describe("what a settlement submits", () => {
  it("is the stack root of the leaves and the transcript from which anyone rebuilds every leaf", () => {
    const stored = leaves(5);
    const built = buildSettlement(snapshot(stored), { chainId: 31337, stacks: STACKS });
    expect(built.root).toBe(stackRoot(stored.map((leaf) => leaf.leafHash)));
    expect(built).toMatchObject({ units: 50n, requestCount: 5n });
    const transcript = decodeTranscript(built.transcript);
    expect(transcript).toMatchObject({ chainId: 31337, stacks: STACKS, stackId: "9" });
    expect(transcript.requests.map((entry) => requestHash(entry.body))).toEqual(stored.map((l) => l.reqHash));
    expect(keccak256(built.transcript)).toBe(transcriptId(transcript));
    expect(transcriptLeaves(transcript).map(leafHash)).toEqual(stored.map((leaf) => leaf.leafHash));
    expect(atomaDomain(31337, STACKS).verifyingContract).toBe(transcript.stacks);
  });

  it("is the zero root and an empty transcript for a stack that served nothing", () => {
    const built = buildSettlement(snapshot([]), { chainId: 1, stacks: STACKS });
    expect(built).toMatchObject({ root: EMPTY_ROOT, units: 0n, requestCount: 0n });
    expect(decodeTranscript(built.transcript).requests).toEqual([]);
  });
});

describe("what the serving node reveals and posts for the sampled indices", () => {
  const stored = leaves(7);
  const root = stackRoot(stored.map((leaf) => leaf.leafHash));

  it("gives each sampled leaf, in the sampled order, and the last one, with proofs at their indices", () => {
    const reveal = revealOf(9n, stored, [5, 0, 3], root);
    expect(reveal.sampled.map((leaf) => leaf.respHash)).toEqual([
      stored[5]!.respHash,
      stored[0]!.respHash,
      stored[3]!.respHash,
    ]);
    reveal.proofs.forEach((proof, i) => {
      const leaf = reveal.sampled[i]!;
      expect(verifyStackProof(root, leafHash(leaf), Number(leaf.leafIndex), 7, proof)).toBe(true);
    });
    expect(reveal.last).toMatchObject({ leafIndex: 6n, cumulativeUnits: 70n });
    expect(verifyStackProof(root, leafHash(reveal.last), 6, 7, reveal.lastProof)).toBe(true);
  });

  it("refuses to reveal from leaves that no longer match the submitted root, or an index it lacks", () => {
    expect(() => revealOf(9n, stored.slice(0, 6), [0], root)).toThrow(SettlementStateError);
    expect(() => revealOf(9n, stored, [7], root)).toThrow(SettlementStateError);
  });

  it("posts the requests' canonical bytes with the fields the owner signed", () => {
    const [posted] = postedRequestsOf(9n, stored, [2]);
    expect(keccak256(posted!.body)).toBe(stored[2]!.reqHash);
    expect(JSON.parse(hexToString(posted!.body))).toEqual({ model: "tiny", prompt: "p2" });
    expect(posted).toMatchObject({ nonce: 2n, deadline: 2_000_000_000n, maxUnits: 4_096n });
    const unsigned = stored.map((leaf) => ({ ...leaf, request: { body: {} } }));
    expect(() => postedRequestsOf(9n, unsigned, [1])).toThrow(SettlementStateError);
  });
});

describe("the settlement worker's contracts", () => {
  it("are all needed once any is configured, and none is a node that settles nothing", () => {
    expect(settlementAddresses({})).toBeUndefined();
    expect(() => settlementAddresses({ NodeRegistry: STACKS })).toThrow(ConfigError);
    expect(() => settlementAddresses({ NodeRegistry: STACKS })).toThrow(/chain\.contracts\.AtomaVault/);
  });
});

describe("the node's gas price caps", () => {
  const estimate = { maxFeePerGas: 30n, maxPriorityFeePerGas: 5n };

  it("lower the estimate to each cap, and keep the tip within the fee cap", () => {
    expect(cappedFees(estimate, {})).toEqual(estimate);
    expect(cappedFees(estimate, { maxPriorityFeePerGas: 2n })).toEqual({
      maxFeePerGas: 30n,
      maxPriorityFeePerGas: 2n,
    });
    expect(cappedFees(estimate, { maxFeePerGas: 4n })).toEqual({
      maxFeePerGas: 4n,
      maxPriorityFeePerGas: 4n,
    });
    expect(cappedFees(estimate, { maxFeePerGas: 100n, maxPriorityFeePerGas: 100n })).toEqual(estimate);
  });
});
