import { describe, expect, it } from "vitest";
import { NodeFailedError } from "../src/errors.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { ADMIN_TOKEN, chat, errorOf, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;
const DAY = 86_400_000;

describe("usage and metrics", () => {
  const gw = suiteGateway(embedded.make);
  const usage = (key: string | undefined, query = "") =>
    gw.app.request(`/v1/usage${query}`, {
      headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    });

  it("counts each key's served requests, tokens and spend per model and UTC day, and shows a key only its own", async () => {
    const alice = await gw.keys.create({ name: "alice" });
    const bob = await gw.keys.create({ name: "bob" });
    gw.upstream.behaviour = () => ({ units: 10 });
    for (let i = 0; i < 3; i++) expect((await chat(gw.app, alice.key)).status).toBe(200);
    gw.clock.now += DAY;
    expect((await chat(gw.app, alice.key)).status).toBe(200);
    expect((await chat(gw.app, bob.key)).status).toBe(200);
    // A failed request is charged nothing and counts as no usage.
    gw.upstream.behaviour = () => ({ fail: new NodeFailedError("node 7 failed the request") });
    expect((await chat(gw.app, alice.key)).status).toBe(502);

    const mine = (await (await usage(alice.key)).json()) as { data: Record<string, unknown>[] };
    expect(mine.data).toEqual([
      {
        key_id: alice.view.id,
        model: "tiny",
        day: "2030-01-02",
        requests: 1,
        tokens: 10,
        // 10 units at 1e9 wei per million.
        spend: "0.00000000000001",
        spend_wei: "10000",
      },
      expect.objectContaining({ day: "2030-01-01", requests: 3, tokens: 30, spend_wei: "30000" }),
    ]);
    expect(((await (await usage(alice.key, "?days=1")).json()) as { data: unknown[] }).data).toHaveLength(1);
    const admin = await gw.app.request("/admin/v1/usage", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(((await admin.json()) as { data: unknown[] }).data).toHaveLength(3);
  });

  it("refuses a missing or revoked key, and bad days, OpenAI-shaped", async () => {
    expect((await usage(undefined)).status).toBe(401);
    const gone = await gw.keys.create({ name: "gone" });
    await gw.keys.revoke(gone.view.id);
    expect((await usage(gone.key)).status).toBe(401);
    const { key } = await gw.keys.create({ name: "days" });
    for (const days of ["0", "367", "-1", "1.5", "1;drop", "99999999999999999999", ""]) {
      const response = await usage(key, `?days=${encodeURIComponent(days)}`);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: "invalid_input" });
    }
    // An admin asking for a key id that is no key id gets nothing, not an error with the text in it.
    const admin = await gw.app.request("/admin/v1/usage?key_id=%27or%201%3D1", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(((await admin.json()) as { data: unknown[] }).data).toEqual([]);
    expect((await gw.app.request("/admin/v1/usage")).status).toBe(401);
  });

  it("exports requests, latency histograms, fallbacks and spend in Prometheus's format", async () => {
    const { key } = await gw.keys.create({ name: "metrics" });
    gw.upstream.behaviour = () => ({ units: 10 });
    const send = gw.upstream.send.bind(gw.upstream);
    gw.upstream.send = async (request) => ({ ...(await send(request)), fallback: true });
    expect((await chat(gw.app, key)).status).toBe(200);
    gw.upstream.send = send;
    expect((await chat(gw.app, "sk-atoma-wrong")).status).toBe(401);
    const response = await gw.app.request("/metrics");
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/atoma_proxy_requests_total\{endpoint="chat",outcome="ok"\} \d+/);
    expect(text).toContain('atoma_proxy_requests_total{endpoint="chat",outcome="invalid_api_key"} 1');
    expect(text).toMatch(/atoma_proxy_request_duration_seconds_bucket\{le="0.005",endpoint="chat"\} \d+/);
    expect(text).toContain("atoma_proxy_fallbacks_total 1");
    expect(text).toMatch(/atoma_proxy_spend_toma_total\{model="tiny"\} [0-9.e-]+/);
    expect(text).toMatch(/atoma_proxy_tokens_total\{model="tiny"\} \d+/);
  });
});
