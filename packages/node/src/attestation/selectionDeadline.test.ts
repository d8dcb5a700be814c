import { describe, expect, it } from "vitest";
import { canSendSelection } from "./selectionDeadline.js";

describe("a selected node sends its proof only while it can land in the window", () => {
  // Review V-2: a proof sent seconds before `endsAt` lands after it, reverts, and leaves the node's VRF proof
  // public: a griefer (the server it would have caught) reports the honest node silent and has it slashed.
  it("keeps the proof when fewer than two block times are left before the window closes", () => {
    const endsAt = 1_000n;
    expect(canSendSelection(endsAt, endsAt - 3n, 2_000)).toBe(false);
    expect(canSendSelection(endsAt, endsAt, 2_000)).toBe(false);
    expect(canSendSelection(endsAt, endsAt + 5n, 2_000)).toBe(false);
    expect(canSendSelection(endsAt, endsAt - 23n, 12_000)).toBe(false);
  });

  it("sends it with two block times or more to spare", () => {
    const endsAt = 1_000n;
    expect(canSendSelection(endsAt, endsAt - 4n, 2_000)).toBe(true);
    expect(canSendSelection(endsAt, endsAt - 24n, 12_000)).toBe(true);
    // Sub-second blocks (Arbitrum's 250 ms) still leave a whole second.
    expect(canSendSelection(endsAt, endsAt - 1n, 250)).toBe(true);
    expect(canSendSelection(endsAt, endsAt, 250)).toBe(false);
  });
});
