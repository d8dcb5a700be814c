import { keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import type { NodeSeat } from "../service/nodeSeat.js";
import type { CommitteeVoter } from "./committeeVoter.js";
import { saltOfVote } from "./voteSalt.js";

const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
const disputeManager = "0x00000000000000000000000000000000000000Aa";
const voter: CommitteeVoter = {
  seat: { addresses: { DisputeManager: disputeManager }, chainId: 31337 } as unknown as NodeSeat,
  account,
};

describe("saltOfVote", () => {
  it("is a signature by the node's key over where it votes: the same after a restart, another per dispute", async () => {
    const salt = await saltOfVote(voter, { disputeId: 7n, nodeId: 3n });
    const message = `atoma dispute vote salt 31337 ${disputeManager.toLowerCase()} 7 3`;
    expect(salt).toBe(keccak256(await account.signMessage({ message })));
    expect(await saltOfVote(voter, { disputeId: 7n, nodeId: 3n })).toBe(salt);
    expect(await saltOfVote(voter, { disputeId: 8n, nodeId: 3n })).not.toBe(salt);
  });

  it("keeps a random salt the row stored before salts were derived, so an upgraded node reveals what it sealed", async () => {
    const stored = keccak256("0x01");
    expect(await saltOfVote(voter, { disputeId: 7n, nodeId: 3n, storedSalt: stored })).toBe(stored);
  });
});
