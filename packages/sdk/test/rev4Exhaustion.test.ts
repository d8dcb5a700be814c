import { describe, expect, it } from "vitest";
import { SMALLEST_REQUEST_UNITS, unprovenVerdict } from "../src/client/spentClaim.js";
import { requestUnitBound } from "../src/requestUnitBound.js";

/**
 * Review R4-4: on a reused stack a node refused a request as `stack_exhausted` while the running total it signed in
 * the refusal still left room on the stack; the client left the stack open (and never used it again), so the
 * buyer's escrow stayed locked until expiry. A total that leaves the refused request's own signed bound is now a
 * lie by the node's signature: the node is put aside and the stack closed.
 */
describe("an unproven exhaustion total that leaves room for the refused request", () => {
  const request = requestUnitBound({ messages: [{ role: "user", content: "hi" }], max_tokens: 64 });

  it("is a lie when the node's own total leaves the request's signed bound (the griefer's refusal)", () => {
    // 10 000 units, the node signs 5 000 used and still refuses a request bound well below the 5 000 left.
    expect(request).toBeLessThan(5_000n);
    expect(unprovenVerdict(10_000n, 5_000n, request)).toBe("lie");
    // Exactly the bound left: an honest node holds it, so refusing is a lie too.
    expect(unprovenVerdict(10_000n, 10_000n - request, request)).toBe("lie");
  });

  it("is the honest 'too big for what is left' when only smaller requests fit", () => {
    expect(unprovenVerdict(10_000n, 10_000n - request + 1n, request)).toBe("tooBig");
  });

  it("ends the stack when not even the smallest request fits, or the total is past the stack", () => {
    expect(unprovenVerdict(10_000n, 10_000n, request)).toBe("spent");
    expect(unprovenVerdict(10_000n, 10_000n - SMALLEST_REQUEST_UNITS + 1n, request)).toBe("spent");
    expect(unprovenVerdict(10_000n, 99_999n, request)).toBe("spent");
  });
});
