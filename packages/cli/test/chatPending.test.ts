import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { devNodeKey } from "../../sdk/test/devActors.js";
import { settleAtOnce } from "../../sdk/test/settleAtOnce.js";
import { asideFile } from "../src/chat/asideStore.js";
import { loadReceipts, receiptsFile } from "../src/chat/receiptStore.js";
import {
  afterFirstChatBehindRelay,
  chatAs,
  chatDevNetwork,
  chatStackHome,
  receiptOf,
} from "./helpers/chatDevNetwork.js";

/**
 * Review sdk M-5 and issue 13's `closedEarly`: what `atoma chat` must carry from one run to the next, on a real dev
 * network whose node URL leads through a real HTTP server that misbehaves as scripted.
 */
describe("atoma chat across runs (atoma dev --nodes 3)", () => {
  const chat = chatDevNetwork("atoma-cli-pending-");

  // Review sdk M-5: the node committed the request and cut the answer; the next run signed another body at that nonce,
  // was refused `nonce_reused` (NonceGapError), and picked the same stack again on every run.
  it("resends the request a run left without a receipt, same signature, and goes on", async () => {
    await afterFirstChatBehindRelay(chat, "pending", async (relay, { keyFile, stackId }) => {
      let cut = false;
      const cutting = (path: string, headers: Record<string, string>) =>
        !cut && path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The relay reads the node's whole answer (committed) and hands back a failure instead.
      relay.rewrite = (body, path, headers) => {
        if (!cutting(path, headers)) return body;
        return JSON.stringify({ error: { message: "bad gateway", type: "server_error", code: "relay" } });
      };
      relay.statusOf = (status, path, headers) => {
        if (!cutting(path, headers)) return status;
        cut = true;
        return 502;
      };
      const broken = await chatAs(chat, keyFile, "Second");
      expect(broken.code).not.toBe(0);
      const again = await chatAs(chat, keyFile, "Third");
      expect(again.code, again.stderr).toBe(0);
      expect(receiptOf(again.stderr)).toMatchObject({ stackId, leafIndex: "2", bought: false });
      const posts = relay.requests.filter((r) => r.path.startsWith("/v1/chat"));
      expect(posts.map((p) => p.headers["x-atoma-nonce"])).toEqual(["1", "1", "2"]);
      expect(posts[1]!.headers["x-atoma-signature"]).toBe(posts[0]!.headers["x-atoma-signature"]);
      expect(posts[1]!.body).toBe(posts[0]!.body);
    });
  }, 180_000);

  // Review MED-3 of issue 13's last item: the node answers a request 400 (refused outright) and commits it anyway;
  // the next run, a new process, must not adopt that leaf as another client's when the node shows it on nonce_reused.
  it("never adopts, in the next run, the leaf of a request the node refused outright and committed", async () => {
    await afterFirstChatBehindRelay(chat, "refused", async (relay, { keyFile, stackId }) => {
      let refused = false;
      const refusing = (path: string, headers: Record<string, string>) =>
        !refused && path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The relay reads the node's whole answer (committed) and hands back a refusal of the request instead.
      relay.rewrite = (body, path, headers) => {
        if (!refusing(path, headers)) return body;
        return JSON.stringify({
          error: { message: "bad request", type: "invalid_request_error", code: "invalid_request" },
        });
      };
      relay.statusOf = (status, path, headers) => {
        if (!refusing(path, headers)) return status;
        refused = true;
        return 400;
      };
      const broken = await chatAs(chat, keyFile, "Second");
      expect(broken.code).not.toBe(0);
      const next = await chatAs(chat, keyFile, "Third");
      // The leaf at nonce 1 is this owner's own refused request: never adopted, so never answered there as leaf 2.
      const answered = next.code === 0 ? receiptOf(next.stderr) : undefined;
      expect({ stackId: answered?.stackId, leafIndex: answered?.leafIndex }).not.toEqual({
        stackId,
        leafIndex: "2",
      });
      const home = await chatStackHome(chat);
      expect(loadReceipts(receiptsFile(chat.receipts, home, BigInt(stackId))).some((r) => r.adopted)).toBe(
        false,
      );
    });
  }, 180_000);

  // Issue 13: a run's first request on a stack is its first send, so `closedEarly` never knew of the earlier run's use
  // and a node that closed a stack just used was never put aside.
  it("puts aside a node that closes a stack an earlier run used a moment ago, units left", async () => {
    await afterFirstChatBehindRelay(chat, "closed", async (relay, { keyFile, nodeId, stackId, k }) => {
      let closing = false;
      const ours = (path: string, headers: Record<string, string>) =>
        path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The node settles the stack at once (its own key) and calls it closed.
      relay.rewrite = async (body, path, headers) => {
        if (!ours(path, headers)) return body;
        if (!closing) {
          closing = true;
          await settleAtOnce(chat.dev.readyText, devNodeKey(chat.dev, k), BigInt(stackId));
        }
        return JSON.stringify({
          error: { message: "the stack is closed", type: "conflict_error", code: "stack_closed" },
        });
      };
      relay.statusOf = (status, path, headers) => (ours(path, headers) ? 409 : status);
      const next = await chatAs(chat, keyFile, "Again");
      expect(next.code, next.stderr).toBe(0);
      expect(receiptOf(next.stderr)).toMatchObject({ bought: true });
      expect(receiptOf(next.stderr).nodeId).not.toBe(nodeId);
      const home = await chatStackHome(chat);
      const aside = JSON.parse(readFileSync(asideFile(chat.receipts, home), "utf8")) as { nodeId: string }[];
      expect(aside.map((n) => n.nodeId)).toEqual([nodeId]);
    });
  }, 180_000);
});
