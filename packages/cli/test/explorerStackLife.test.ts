import { describe, expect, it } from "vitest";
import type { ChainEvent } from "../../../apps/explorer/src/chain/chainEvent.js";
import { stackLife } from "../../../apps/explorer/src/chain/stackLife.js";

let logIndex = 0;
/** One decoded event of stack 7, as the chain feed hands it over. */
const event = (contract: string, name: string, args: Record<string, unknown>): ChainEvent => ({
  contract: contract as ChainEvent["contract"],
  name,
  args: { stackId: 7n, ...args },
  block: BigInt(++logIndex),
  tx: `0x${logIndex.toString(16).padStart(64, "0")}`,
  logIndex,
  address: "0x0000000000000000000000000000000000000001",
});

const bought = event("StackManager", "StackBought", {
  owner: "0x00000000000000000000000000000000000000aa",
  nodeId: 2n,
  units: 1_000n,
  pricePerMillion: 10n ** 18n,
  escrow: 10n ** 15n,
});
const submitted = event("SettlementManager", "SettlementSubmitted", {
  nodeId: 2n,
  requestCount: 3n,
  units: 900n,
  root: `0x${"ab".repeat(32)}`,
});
const sampled = event("SettlementManager", "AttestersSampled", { attesters: [3n], requestIndices: [1n] });
const failed = (reason: bigint) =>
  event("SettlementManager", "SettlementFailed", { nodeId: 2n, reason, refunded: 10n ** 15n });

const stages = (events: ChainEvent[]) => stackLife(events, 7n).stages.map((s) => `${s.name}:${s.done}`);

/** How a stack's life ends on its timeline: the failed branch names the contract's reason. */
describe("a stack's life", () => {
  it("ends failed with the contract's reason when the node withheld the sampled requests", () => {
    const life = stackLife([bought, submitted, sampled, failed(2n)], 7n);
    expect(life.stages.at(-1)).toEqual({ name: "failed: data withheld", done: true });
    expect(life.entries.at(-1)?.text).toBe("failed: data withheld, 0.001 TOMA refunded to the owner");
    expect(stages([bought, submitted, sampled, failed(1n)]).at(-1)).toBe("failed: no reveal:true");
  });

  it("keeps a dispute's stage before the failure it ended in, and names an unknown reason by its number", () => {
    const disputed = event("SettlementManager", "SettlementDisputed", { disputeId: 4n });
    const resolved = event("DisputeManager", "DisputeResolved", {
      disputeId: 4n,
      decided: true,
      losers: [2n],
    });
    expect(stages([bought, submitted, sampled, disputed, resolved, failed(3n)]).slice(-2)).toEqual([
      "dispute:true",
      "failed: dispute lost:true",
    ]);
    expect(stages([bought, submitted, failed(9n)]).at(-1)).toBe("failed: reason 9:true");
  });

  it("is open until finalized when nothing failed, and timed out when its node never settled", () => {
    expect(stages([bought, submitted, sampled]).at(-1)).toBe("finalized:false");
    const timedOut = event("SettlementManager", "SettlementTimedOut", { nodeId: 2n, refunded: 1n });
    expect(stages([bought, timedOut]).at(-1)).toBe("timed out:true");
  });
});
