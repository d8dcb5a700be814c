import { getStack } from "@atoma/chain";
import { parseNetwork, readContext } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import type { Relay } from "../../sdk/test/relay.js";
import { asideFile, loadAside } from "../src/chat/asideStore.js";
import { loadPending, pendingFile } from "../src/chat/pendingStore.js";
import { receiptsFile } from "../src/chat/receiptStore.js";
import {
  afterFirstChatBehindRelay,
  chatAs,
  chatDevNetwork,
  chatStackHome,
  receiptOf,
} from "./helpers/chatDevNetwork.js";

/**
 * Scripts `relay` for chats on `stackId` while `active()` holds: the node commits the first request and its answer is
 * cut (502); every later one is refused with `then`, in the node's error body.
 */
function cutThenRefuse(
  relay: Relay,
  stackId: string,
  then: { status: number; type: string; code: string; message: string },
  active = () => true,
) {
  let cut = false;
  const ours = (path: string, headers: Record<string, string>) =>
    active() && path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
  relay.rewrite = (body, path, headers) => {
    if (!ours(path, headers)) return body;
    const code = cut ? then.code : "relay";
    const message = cut ? then.message : "relay";
    return JSON.stringify({ error: { message, type: then.type, code } });
  };
  relay.statusOf = (status, path, headers) => {
    if (!ours(path, headers)) return status;
    if (cut) return then.status;
    cut = true;
    return 502;
  };
}

/**
 * Issue 13's fifth review: a node that committed a leaf and then refused the resend of its signed request jammed the
 * stack for `atoma chat` until it expired (every run resent it first, and failed). On a real dev network whose node URL
 * leads through a real HTTP server that misbehaves as scripted.
 */
describe("atoma chat on a stack whose node withholds a receipt (atoma dev --nodes 3)", () => {
  const chat = chatDevNetwork("atoma-cli-stalled-");

  // Review CLI3-1: a node whose clock runs ahead refuses a resend as expired (401) though the client's clock says it
  // is not: that proves no withholding, so the node is not put aside and its stack not closed.
  it("neither puts aside nor closes on a resend refused 401 (the node's clock ahead)", async () => {
    await afterFirstChatBehindRelay(chat, "skewed", async (relay, { keyFile, nodeId, stackId }) => {
      let skewed = true;
      // The node commits leaf 1, the answer is cut; the resend is refused as expired by a clock running ahead.
      cutThenRefuse(
        relay,
        stackId,
        {
          status: 401,
          type: "authentication_error",
          code: "invalid_signature",
          message: "the request's deadline has passed",
        },
        () => skewed,
      );
      const broken = await chatAs(chat, keyFile, "Second");
      expect(broken.code).not.toBe(0);
      const refused = await chatAs(chat, keyFile, "Third");
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/refused the resend of the request at nonce 1/);
      const ctx = readContext(parseNetwork(chat.dev.readyText));
      const home = await chatStackHome(chat);
      expect(loadAside(asideFile(chat.receipts, home)).map((n) => n.nodeId)).not.toContain(nodeId);
      expect((await getStack(ctx, BigInt(stackId))).closedAt).toBe(0n);
      // Its clock right again, the node gives the receipt of the leaf it committed and serves on the same stack.
      skewed = false;
      const later = await chatAs(chat, keyFile, "Fourth");
      expect(later.code, later.stderr).toBe(0);
      expect(receiptOf(later.stderr)).toMatchObject({ nodeId, stackId, bought: false });
    });
  }, 300_000);

  it("puts the node aside, closes the stalled stack, keeps the signed request and buys elsewhere", async () => {
    await afterFirstChatBehindRelay(chat, "stalled", async (relay, { keyFile, nodeId, stackId }) => {
      // The node commits leaf 1 and cuts the answer; asked again for it, it says the nonce is used, no receipt.
      cutThenRefuse(relay, stackId, {
        status: 409,
        type: "conflict_error",
        code: "nonce_reused",
        message: "nonce_reused",
      });
      const broken = await chatAs(chat, keyFile, "Second");
      expect(broken.code).not.toBe(0);
      const next = await chatAs(chat, keyFile, "Third");
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toMatch(/withholds the receipt of the request at nonce 1/);
      const served = receiptOf(next.stderr);
      expect(served.bought).toBe(true);
      expect(served.nodeId).not.toBe(nodeId);
      const ctx = readContext(parseNetwork(chat.dev.readyText));
      const home = await chatStackHome(chat);
      expect(loadAside(asideFile(chat.receipts, home)).map((n) => n.nodeId)).toEqual([nodeId]);
      // Closed by its owner: settled by the close plus the window, not at its expiry.
      expect((await getStack(ctx, BigInt(stackId))).closedAt).toBeGreaterThan(0n);
      // The signed request the node committed is kept, the owner's evidence.
      const kept = loadPending(pendingFile(receiptsFile(chat.receipts, home, BigInt(stackId))));
      expect(kept.map((p) => p.signed.nonce)).toEqual([1n]);
      // A later run is not jammed either: it goes on with the stack just bought.
      const later = await chatAs(chat, keyFile, "Fourth");
      expect(later.code, later.stderr).toBe(0);
      expect(receiptOf(later.stderr).stackId).toBe(served.stackId);
    });
  }, 300_000);
});
