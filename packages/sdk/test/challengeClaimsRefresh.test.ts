import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeptStacks } from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import { keccak256, toHex } from "viem";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "atoma-claims-refresh-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

const place = {
  chainId: 31337,
  genesis: keccak256(toHex("genesis")),
  stackManager: "0x00000000000000000000000000000000000000aa" as const,
  owner: "0x00000000000000000000000000000000000000bb" as const,
};
/** Two processes of one owner auditing from one state directory (each its own `KeptStacks`). */
const twoProcesses = (name: string) => {
  const store = fileStateStore(join(dir, name));
  return [new KeptStacks(store, place), new KeptStacks(store, place)] as const;
};
const leaf = (tag: string) => keccak256(toHex(tag)).toLowerCase();
const at = (ms: number) => vi.setSystemTime(ms);

// Review LOW-6: a challenge claim stands 5 minutes; a run that lasts longer keeps its claims fresh, and a claim
// stamped ahead by a skewed clock does not stand past its time.
describe("challenge claims: refreshed while sent, a future stamp stale", () => {
  it("a run's refreshed claim is not taken after 5 minutes; one not refreshed is, and its first claimant loses it", async () => {
    const [a, b] = twoProcesses("refresh");
    const [x, y] = [leaf("x"), leaf("y")];
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    at(t0);
    expect(await a.claimChallenges(7n, [x, y])).toEqual([x, y]);
    at(t0 + 4 * 60_000);
    // A is still sending y (its transaction slow to be mined): it refreshes y's claim, not x's.
    expect(await a.refreshClaims(7n, [y])).toEqual([y]);
    at(t0 + 5 * 60_000 + 1_000);
    expect(await b.claimChallenges(7n, [x, y])).toEqual([x]);
    // x lapsed and B took it: A must not send it (refresh tells it so), nor refresh B's claim as its own.
    expect(await a.refreshClaims(7n, [x])).toEqual([]);
    expect(await b.refreshClaims(7n, [x])).toEqual([x]);
  });

  it("a claim stamped far in the future (a skewed clock) is stale; one a few seconds ahead still stands", async () => {
    const [a, b] = twoProcesses("skew");
    const [far, near] = [leaf("far"), leaf("near")];
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    at(t0 + 10 * 60_000); // A's host runs ten minutes ahead, and A dies after claiming
    expect(await a.claimChallenges(8n, [far])).toEqual([far]);
    at(t0 + 10_000); // a host ten seconds ahead
    expect(await a.claimChallenges(8n, [near])).toEqual([near]);
    at(t0);
    expect(await b.claimChallenges(8n, [far, near])).toEqual([far]);
  });
});
