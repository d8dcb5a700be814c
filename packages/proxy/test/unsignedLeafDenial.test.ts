import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { CUT_FINISH_MS, LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type FakeNodeOptions, type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { chat } from "./helpers/testGateway.js";

// Issue 12, denied leaves: a cut request's nonce is freed for another request only on the node's signed word that no
// leaf for that request stands there, nor ever will (`AtomaLeafDenial`). A node (here one that committed the cut
// request's leaf) answering the leaf read with a bare 404, a denial signed by another key, or a denial of another
// request frees nothing: the cut request stays pending at its nonce and is resent, so its leaf is the one billed there
// and the gateway never signs another request at that nonce.
describe.each(["unsigned", "forged", "otherRequest"] as const)(
  "a leaf read answered 'no leaf' with a %s denial",
  (denial) => {
    let script: NodeScript = { kind: "honest" };
    const lies: NonNullable<FakeNodeOptions["lies"]> = { denial };
    const rig = suiteNodeGateway({
      nodes: [{ script: streamsAs(() => script), options: { strictNonces: true, lies } }],
      upstream: { cutLimit: 100 },
    });

    it("frees nothing: the cut request is resent at its nonce, the next request takes the one after", async () => {
      const { parts, node, opened } = rig;
      const app = createGatewayApp(parts);
      const { key, view } = await parts.keys.create({ name: `denied-${denial}`, budget: "1" });
      script = { kind: "cutThenFinish", finishMs: CUT_FINISH_MS };
      const cut = await chat(app, key, LONG_STREAM);
      expect(await cut.text()).toContain("Hel");
      await node.finished();
      script = { kind: "honest" };
      const cutBodies = node.requests.length;
      lies.leafNotFound = 1;
      const next = await chat(app, key, shortChat("next"));
      expect(next.status).toBe(200);
      await next.text();
      // The leaf read was told "no leaf" (its denial not the node's word for that request): the request was resent.
      expect(lies.leafNotFound).toBe(0);
      expect(node.requests.length - cutBodies).toBe(2);
      expect(node.requests.at(-2)?.messages).toEqual(node.requests[cutBodies - 1]?.messages);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      // Leaf 0 is the cut request's (its receipt kept), leaf 1 the next request's: no nonce was given to another.
      const kept = await opened.db
        .selectFrom("receipts")
        .where("stack_id", "=", 1n)
        .select(["leaf_index", "receipt"])
        .orderBy("leaf_index")
        .execute();
      expect(kept.map((row) => Number(row.leaf_index))).toEqual([0, 1]);
      expect(kept[0]?.receipt.reqHash).not.toBe(kept[1]?.receipt.reqHash);
    });
  },
);
