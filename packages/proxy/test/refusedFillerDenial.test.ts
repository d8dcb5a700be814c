import { requestHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { shortChat } from "./helpers/chatBodies.js";
import type { FakeNodeOptions } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Review of the signed leaf denials, M1: a node answering a request 409 `leaf_denied` with its signed denial (one it
// never recorded), then refusing the filler sent at that nonce, could commit the denied request there anyway (it holds
// the owner's signature) and settle it: the gateway had checked the denial, paid a filler on it, and dropped it, so it
// kept a freed leaf with no signature and could prove nothing. The denial is kept with the freed nonce.
describe("a node that denies a request at its nonce, then refuses the filler", () => {
  const lies: NonNullable<FakeNodeOptions["lies"]> = {};
  const rig = suiteNodeGateway({
    nodes: [{ script: () => ({ kind: "honest" }), options: { strictNonces: true, lies } }],
    freedLeavesInDb: true,
  });

  it("keeps the node's signed denial of that request with the freed nonce", async () => {
    const { parts, node, opened } = rig;
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "denied-then-refused", budget: "1" });
    lies.refuseNext = ["denied", "refused"];
    const refused = await chat(app, key, shortChat("denied at its nonce"));
    await refused.text();
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(lies.refuseNext).toEqual([]);
    const [denied, filler] = node.requests;
    const deniedHash = requestHash(denied!).toLowerCase();
    const rows = await opened.db
      .selectFrom("freed_leaves")
      .select(["nonce", "req_hash", "denial_signature"])
      .where("stack_id", "=", 1n)
      .execute();
    const own = rows.find((row) => row.req_hash.toLowerCase() === deniedHash);
    expect(own?.nonce).toBe(0n);
    expect(own?.denial_signature).toMatch(/^0x[0-9a-fA-F]{130}$/);
    // The filler, refused with no word at all, frees its nonce with none.
    const fillerRow = rows.find((row) => row.req_hash.toLowerCase() === requestHash(filler!).toLowerCase());
    expect(fillerRow?.denial_signature ?? null).toBeNull();
  });
});
