import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { suiteNodeGateway } from "./helpers/nodeGateway.js";
import { stackState } from "./helpers/stackState.js";
import { chat } from "./helpers/testGateway.js";

/** The deadline the gateway signs requests with (s), and the grace after it (ms). */
const DEADLINE_S = 3;
const GRACE_MS = 500;

// Review 2 of h-gw, MEDIUM-E: a node cuts a stream and then answers 409 `request_in_flight` for the stack's next nonce
// forever (the leaf read and every resend). The request stays pending, so each later request on the stack reads or
// resends it first and is refused: the stack was never retired (its escrow locked until expiry), the key's held charge
// never settled, and the node never counted against. Past the request's signed deadline and a grace, the stack is
// retired (closed, as an idle stack) and the node struck; the hold waits for the stack's settlement.
describe("a node that answers request_in_flight forever", () => {
  let script: NodeScript = { kind: "honest" };
  const rig = suiteNodeGateway({
    nodes: [{ script: streamsAs(() => script), options: { strictNonces: true } }],
    upstream: {
      cutLimit: 100,
      deadlineSeconds: DEADLINE_S,
      inFlightGraceMs: GRACE_MS,
    },
  });

  const plain = shortChat("again");

  it("retires the stack, leaves the held charge to its settlement and strikes the node once past the deadline", async () => {
    const { opened, parts, upstream, nodeErrors } = rig;
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "stuck", budget: "1" });
    // The node never finishes: its stack's next nonce stays in flight.
    script = { kind: "cutThenFinish", finishMs: 600_000 };
    const cut = await chat(app, key, LONG_STREAM);
    expect(await cut.text()).toContain("Hel");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    const held = await opened.db
      .selectFrom("sealed_charges")
      .selectAll()
      .where("stack_id", "=", 1n)
      .executeTakeFirstOrThrow();
    expect(held.charged_wei).toBeGreaterThan(held.floor_wei);

    // Within the deadline: the node may still be finishing; the stack is kept and the node not struck.
    script = { kind: "honest" };
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    expect(await stackState(opened)).not.toBe("retired");
    expect(nodeErrors).toEqual([]);

    // Deadlines are whole seconds: a second more than the grace past the deadline, wherever in its second it fell.
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_S * 1000 + GRACE_MS + 1_600));
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    expect(await stackState(opened)).toBe("retired");
    expect(nodeErrors).toContain("1:in_flight_past_deadline");
    expect(upstream.health.available(1n)).toBe(false);
    // The hold stays for the stack's settlement (review 3 of h-gw, LOW): the node still holds the request's signature
    // and may commit and bill it there. Settled then at what the node was paid: the key pays what its stream relayed
    // when the node billed the leaf, and gets all but the floor back when it billed nothing.
    const left = await opened.db
      .selectFrom("sealed_charges")
      .selectAll()
      .where("stack_id", "=", 1n)
      .execute();
    expect(left).toHaveLength(1);
    expect(parseEther((await parts.keys.get(view.id)).spent)).toBe(held.charged_wei);
    await new SealedCharges(opened.db).settleBySettlement(1n, 0n, undefined);
    expect(await new SealedCharges(opened.db).held()).toEqual([]);
    expect(parseEther((await parts.keys.get(view.id)).spent)).toBe(held.floor_wei);
  }, 60_000);
});
