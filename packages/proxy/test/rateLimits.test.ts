import { describe, expect, it } from "vitest";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, errorOf, gate, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;
/** 32 bytes of messages, the 64-token margin and max_tokens 10. */
const BOUND = 106;

describe("a key's rate limits", () => {
  const gw = suiteGateway(embedded.make);

  it("refuses requests past requests-per-minute with 429 and the wait, and admits again as it refills", async () => {
    const { key } = await gw.keys.create({ name: "rpm", requestsPerMinute: 3 });
    const statuses = (await Promise.all(Array.from({ length: 6 }, () => chat(gw.app, key)))).map(
      (r) => r.status,
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    const refused = await chat(gw.app, key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("20");
    expect(await errorOf(refused)).toMatchObject({ code: "rate_limit_exceeded", type: "rate_limit_error" });
    gw.clock.now += 20_000;
    expect((await chat(gw.app, key)).status).toBe(200);
    expect((await chat(gw.app, key)).status).toBe(429);
  });

  it("takes each request's maximum tokens up front, so concurrent streams cannot share one allowance", async () => {
    const { key } = await gw.keys.create({ name: "tpm", tokensPerMinute: 2 * BOUND + 10 });
    const held = gate();
    gw.upstream.behaviour = () => ({ hold: held.opened, units: 10 });
    const streams = await Promise.all(
      Array.from({ length: 5 }, () =>
        chat(gw.app, key, {
          model: "tiny",
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 10,
          stream: true,
        }),
      ),
    );
    expect(streams.filter((r) => r.status === 200)).toHaveLength(2);
    const refused = streams.find((r) => r.status === 429)!;
    expect(await errorOf(refused)).toMatchObject({ code: "rate_limit_exceeded" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    held.open();
    for (const response of streams) if (response.status === 200) await response.text();
    // Each used 10 of its 106: the rest came back, so two more fit at once.
    gw.upstream.behaviour = () => ({ units: 10 });
    await expect.poll(async () => (await chat(gw.app, key)).status).toBe(200);
    expect((await chat(gw.app, key)).status).toBe(200);
  });

  it("tells a request that can never fit the tokens-per-minute limit not to retry", async () => {
    const { key } = await gw.keys.create({ name: "small", tokensPerMinute: 50 });
    const response = await chat(gw.app, key);
    expect(response.status).toBe(429);
    expect(response.headers.get("x-should-retry")).toBe("false");
    expect((await errorOf(response)).message).toContain("lower max_tokens");
  });

  it("applies a limit changed by the admin from the next request", async () => {
    const { key, view } = await gw.keys.create({ name: "changed", requestsPerMinute: 1 });
    expect((await chat(gw.app, key)).status).toBe(200);
    expect((await chat(gw.app, key)).status).toBe(429);
    await gw.keys.update(view.id, { requestsPerMinute: null });
    expect((await chat(gw.app, key)).status).toBe(200);
  });

  it("refuses max_tokens beyond the gateway's cap with 400 and sets a bound on requests without one", async () => {
    const { key } = await gw.keys.create({ name: "bounds" });
    const tooMany = await chat(gw.app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 1_001,
    });
    expect(tooMany.status).toBe(400);
    for (const max_tokens of [0, -1, 1.5, "10", 2 ** 60]) {
      const bad = await chat(gw.app, key, {
        model: "tiny",
        messages: [{ role: "user", content: "x" }],
        max_tokens,
      });
      expect(bad.status).toBe(400);
    }
    gw.upstream.sent.length = 0;
    expect(
      (await chat(gw.app, key, { model: "tiny", messages: [{ role: "user", content: "hi" }] })).status,
    ).toBe(200);
    expect(gw.upstream.sent[0]?.body.max_tokens).toBe(100);
  });
});
