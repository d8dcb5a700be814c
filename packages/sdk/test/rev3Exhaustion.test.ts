import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { SMALLEST_REQUEST_UNITS, unprovenSpent } from "../src/client/spentClaim.js";
import { closeUnprovenReported, judgeExhaustionClaim } from "../src/client/unprovenExhaustion.js";
import { parseNetwork, userContext } from "../src/network.js";
import { requestUnitBound } from "../src/requestUnitBound.js";

const ROOT = `0x${"ab".repeat(32)}`;
const NO_ROOT = `0x${"0".repeat(64)}`;
/** `ISettlementManager.Phase`. */
const Phase = { Accepted: 4, Finalized: 5, Failed: 6, TimedOut: 7 } as const;

/** Review S3-1: a stack its node never settled was reported as the node contradicting its exhaustion claim. */
describe("a settlement is compared with an exhaustion claim only when the node submitted it", () => {
  it("does not call a timed-out stack (units 0, the node already slashed) a contradicted claim", () => {
    const check = judgeExhaustionClaim(5n, 900n, { phase: Phase.TimedOut, root: NO_ROOT, units: 0n });
    expect(check).toMatchObject({ stackId: 5n, claimed: 900n, settled: 0n, contradicted: false });
    expect(check.reason).toMatch(/timed out/);
  });

  it("does not call a settlement failed before any submission a contradiction", () => {
    const check = judgeExhaustionClaim(5n, 900n, { phase: Phase.Failed, root: NO_ROOT, units: 0n });
    expect(check.contradicted).toBe(false);
    expect(check.reason).toMatch(/no settlement was submitted/);
  });

  it("still catches a node whose own submitted settlement bills less than it claimed", () => {
    expect(judgeExhaustionClaim(5n, 900n, { phase: Phase.Finalized, root: ROOT, units: 40n })).toMatchObject({
      contradicted: true,
      settled: 40n,
    });
    expect(
      judgeExhaustionClaim(5n, 900n, { phase: Phase.Accepted, root: ROOT, units: 900n }).contradicted,
    ).toBe(false);
  });
});

/**
 * Review S3-5: `stack_exhausted` is also an honest node's answer to a request bigger than what is left; on a reused
 * stack the client closed the stack at once although the node's own signed total left units for smaller requests.
 */
describe("a reused stack called exhausted unproven is ended only when nothing useful is left", () => {
  it("leaves open a stack whose node's own total leaves room for a smaller request", () => {
    const big = requestUnitBound({ messages: [{ role: "user", content: "hi" }], max_tokens: 100_000 });
    // 10 000 units, 5 000 used by the node's signed total: the 100 000-token request is too big, a small one is not.
    expect(big).toBeGreaterThan(5_000n);
    expect(unprovenSpent(10_000n, 5_000n)).toBe(false);
  });

  it("ends it when the node's total leaves less than the smallest request", () => {
    expect(unprovenSpent(10_000n, 10_000n)).toBe(true);
    expect(unprovenSpent(10_000n, 10_000n - SMALLEST_REQUEST_UNITS + 1n)).toBe(true);
    expect(unprovenSpent(10_000n, 10_000n - SMALLEST_REQUEST_UNITS)).toBe(false);
    // A total inflated past the stack (a liar's) ends it too: the index challenge then decides.
    expect(unprovenSpent(10_000n, 99_999n)).toBe(true);
  });
});

/** Review S3-2: a failing owner close threw out of `call()` although another stack could serve the request. */
describe("a failed owner close of an unproven stack is reported, not thrown", () => {
  it("gives the RPC's failure as closeError when the chain cannot be reached", async () => {
    // A real socket that refuses: the RPC endpoint is down.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const network = parseNetwork(
      JSON.stringify({
        rpcUrl: `http://127.0.0.1:${port}`,
        chainId: 31337,
        contracts: Object.fromEntries(
          [
            "AtomaToken",
            "NodeRegistry",
            "TaskRegistry",
            "AtomaVault",
            "StackManager",
            "SettlementManager",
          ].map((name, k) => [name, `0x${String(k + 1).repeat(40)}`]),
        ),
      }),
    );
    const ctx = userContext(network, privateKeyToAccount(generatePrivateKey()));
    const closed = await closeUnprovenReported(ctx, 3n);
    expect(closed.settleDeadline).toBeUndefined();
    expect(closed.closeError).toBeInstanceOf(Error);
  }, 60_000);
});
