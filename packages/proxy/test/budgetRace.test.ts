import { formatEther } from "viem";
import { describe, expect, it } from "vitest";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, errorOf, gate, sseEvents, suiteGateway, warnings } from "./helpers/testGateway.js";

/** The fake node's price: 1e9 wei per million units, so each unit costs 1000 wei. */
const WEI_PER_UNIT = 1_000n;
/** A chat of "hi" with max_tokens 10: 32 bytes of messages, the 64-token template margin, 10 tokens. */
const BOUND_UNITS = 106n;
const MAX_COST = BOUND_UNITS * WEI_PER_UNIT;
const HI = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 10 };

describe.each(testDatabases())("a key's budget under concurrency ($name)", ({ make, skip }) => {
  const gw = suiteGateway(make, skip);

  const spending = async (id: string) => {
    const view = await gw.keys.get(id);
    return { spent: view.spent, reserved: view.reserved, budget: view.budget };
  };

  it.skipIf(skip)(
    "admits concurrent streams only while their maxima fit, and settles each at its receipt",
    async () => {
      const budget = 5n * MAX_COST + MAX_COST / 2n;
      const { key, view } = await gw.keys.create({ name: "racer", budget: formatEther(budget) });
      const held = gate();
      gw.upstream.behaviour = () => ({ hold: held.opened, units: 10 });
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => chat(gw.app, key, { ...HI, stream: true })),
      );
      const admitted = responses.filter((r) => r.status === 200);
      const refused = responses.filter((r) => r.status !== 200);
      expect(admitted).toHaveLength(5);
      for (const response of refused) {
        expect(response.status).toBe(429);
        expect(response.headers.get("retry-after")).toBe("1");
        expect(response.headers.get("x-should-retry")).toBeNull();
        expect(await errorOf(response)).toMatchObject({
          code: "insufficient_quota",
          type: "insufficient_quota",
        });
      }
      expect(await spending(view.id)).toEqual({
        spent: "0",
        reserved: formatEther(5n * MAX_COST),
        budget: formatEther(budget),
      });

      held.open();
      for (const response of admitted) {
        expect(response.headers.get("x-atoma-node")).toBe("7");
        const events = await sseEvents(response);
        const last = events.at(-1)!;
        expect(last).toMatchObject({ choices: [], usage: { total_tokens: 10 } });
        expect((last.atoma as { units: string }).units).toBe("10");
      }
      await expect
        .poll(() => spending(view.id))
        .toEqual({
          spent: formatEther(5n * 10n * WEI_PER_UNIT),
          reserved: "0",
          budget: formatEther(budget),
        });
    },
  );

  it.skipIf(skip)("never promises the same budget twice, however many requests race for it", async () => {
    const budget = 3n * MAX_COST;
    const { key, view } = await gw.keys.create({ name: "burst", budget: formatEther(budget) });
    gw.upstream.behaviour = () => ({ units: Number(BOUND_UNITS) });
    const statuses = (await Promise.all(Array.from({ length: 30 }, () => chat(gw.app, key, HI)))).map(
      (r) => r.status,
    );
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    const after = await gw.keys.get(view.id);
    expect(after.reserved).toBe("0");
    // Each answer cost its whole bound, so exactly three fit, whatever the interleaving.
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(after.spent).toBe(formatEther(budget));
    const last = await chat(gw.app, key, HI);
    expect(last.status).toBe(429);
    // Nothing in flight can free room: only an operator can, so clients are told not to retry.
    expect(last.headers.get("x-should-retry")).toBe("false");
    expect(last.headers.get("retry-after")).toBe("60");
  });

  it.skipIf(skip)("charges an answer that cost more than its bound, and says so in the logs", async () => {
    const { key, view } = await gw.keys.create({ name: "overshoot", budget: formatEther(MAX_COST) });
    gw.upstream.behaviour = () => ({ units: Number(BOUND_UNITS) * 3 });
    expect((await chat(gw.app, key, HI)).status).toBe(200);
    expect((await gw.keys.get(view.id)).spent).toBe(formatEther(3n * MAX_COST));
    expect(warnings(gw.logs).join("\n")).toContain("cost more than its reserved maximum");
    expect((await chat(gw.app, key, HI)).status).toBe(429);
  });

  it.skipIf(skip)(
    "gives the whole reservation back when the request fails; a client that leaves a stream it was answered on pays its maximum",
    async () => {
      const { key, view } = await gw.keys.create({ name: "unlucky", budget: "1" });
      gw.upstream.behaviour = () => ({ fail: new Error("the node broke") });
      const failed = await chat(gw.app, key, HI);
      expect(failed.status).toBe(500);
      expect(await errorOf(failed)).toMatchObject({ code: "internal_error", message: "internal error" });

      const held = gate();
      gw.upstream.behaviour = () => ({ hold: held.opened });
      const streaming = await chat(gw.app, key, { ...HI, stream: true });
      expect(streaming.status).toBe(200);
      await streaming.body!.cancel();
      held.open();
      await expect.poll(async () => (await gw.keys.get(view.id)).reserved).toBe("0");
      // The stream had begun (its first text on the way) and no receipt came: leaving it is not a free answer.
      expect((await gw.keys.get(view.id)).spent).toBe(formatEther(MAX_COST));
    },
  );

  it.skipIf(skip)(
    "charges a reservation a crash left open in full once it expires, and never twice",
    async () => {
      const { view } = await gw.keys.create({ name: "crashed", budget: "1" });
      const orphan = await gw.ledger.reserve(view.id, MAX_COST);
      expect(await gw.ledger.sweep()).toBe(0);
      gw.clock.now += 60_000;
      expect(await gw.ledger.sweep()).toBe(1);
      expect(await spending(view.id)).toMatchObject({ spent: formatEther(MAX_COST), reserved: "0" });
      await gw.ledger.settle(orphan, 0n);
      expect(await spending(view.id)).toMatchObject({ spent: formatEther(MAX_COST), reserved: "0" });
      expect(warnings(gw.logs).join("\n")).toContain("swept before its request settled");
    },
  );

  it.skipIf(skip)("refuses a key revoked while its request waited for the budget", async () => {
    const { view } = await gw.keys.create({ name: "revoked mid-way", budget: "1" });
    await gw.keys.revoke(view.id);
    await expect(gw.ledger.reserve(view.id, 1n)).rejects.toMatchObject({ code: "invalid_api_key" });
  });
});
