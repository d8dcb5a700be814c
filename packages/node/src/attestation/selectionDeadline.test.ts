import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadNodeConfig } from "../config/loadConfig.js";
import { selectionBlockTimeMs } from "./attestationPart.js";
import { canSendSelection } from "./selectionDeadline.js";

const example = fileURLToPath(new URL("../../node.example.toml", import.meta.url));

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

describe("the block time a selected node judges its deadline by comes from its configuration", () => {
  // Review N3-2: `attestationPart()` was built with no options, so every chain was judged by the 2 s default: on a
  // 12 s chain a proof sent with 4 s to 23 s left landed past the window, reverted and published the proof.
  it("takes chain.blockTimeMs (file or environment) into the duty", () => {
    const slow = loadNodeConfig({ file: example, env: { ATOMA_NODE_CHAIN_BLOCK_TIME_MS: "12000" } });
    expect(slow.chain.blockTimeMs).toBe(12_000);
    const blockTimeMs = selectionBlockTimeMs(slow);
    expect(blockTimeMs).toBe(12_000);
    expect(canSendSelection(1_000n, 1_000n - 23n, blockTimeMs)).toBe(false);
    expect(canSendSelection(1_000n, 1_000n - 24n, blockTimeMs)).toBe(true);
  });

  it("is 2 s when not configured, and a part's explicit option wins", () => {
    const config = loadNodeConfig({ file: example, env: {} });
    expect(selectionBlockTimeMs(config)).toBe(2_000);
    expect(selectionBlockTimeMs(config, { blockTimeMs: 250 })).toBe(250);
  });
});
