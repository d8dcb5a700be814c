import { describe, expect, it } from "vitest";
import { hashApiKey } from "../src/keys/apiKeySecret.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { ADMIN_TOKEN, chat, errorOf, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

describe("API keys through the admin API", () => {
  const gw = suiteGateway(embedded.make);

  const call = (method: string, path: string, body?: unknown) =>
    gw.app.request(path, {
      method,
      headers: admin,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("shows a new key once, and stores only its hash", async () => {
    const created = await call("POST", "/admin/v1/keys", {
      name: "team A",
      budget: "12.5",
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
      models: ["tiny"],
      expiresAt: "2031-01-01T00:00:00Z",
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as Record<string, unknown> & { key: string; id: string };
    expect(body).toMatchObject({
      name: "team A",
      status: "active",
      budget: "12.5",
      spent: "0",
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
      models: ["tiny"],
      expiresAt: "2031-01-01T00:00:00.000Z",
      revokedAt: null,
    });
    expect(body.key).toMatch(/^sk-atoma-[A-Za-z0-9_-]{43}$/);
    expect(body.prefix).toBe(body.key.slice(0, 15));

    const rows = await gw.database.db.selectFrom("api_keys").selectAll().execute();
    const stored = JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(stored).not.toContain(body.key);
    expect(stored).not.toContain(body.key.slice(15));
    expect(rows.find((r) => r.key_id === body.id)?.key_hash).toBe(hashApiKey(body.key));

    const listed = await (await call("GET", "/admin/v1/keys")).text();
    expect(listed).toContain(body.id);
    expect(listed).not.toContain(body.key.slice(15));
    expect(listed).not.toContain(hashApiKey(body.key));
    expect((await chat(gw.app, body.key)).status).toBe(200);
  });

  it("updates and revokes a key; its next request is refused", async () => {
    const { key, id } = (await (await call("POST", "/admin/v1/keys", { name: "b" })).json()) as {
      key: string;
      id: string;
    };
    const updated = await call("PATCH", `/admin/v1/keys/${id}`, { budget: "0", models: ["other"] });
    expect(await updated.json()).toMatchObject({ budget: "0", models: ["other"] });
    expect((await chat(gw.app, key)).status).toBe(404);
    await call("PATCH", `/admin/v1/keys/${id}`, { models: null });
    expect((await chat(gw.app, key)).status).toBe(429);
    const revoked = await call("POST", `/admin/v1/keys/${id}/revoke`);
    expect(await revoked.json()).toMatchObject({ status: "revoked" });
    expect((await chat(gw.app, key)).status).toBe(401);
  });

  it("refuses bad terms with 400 naming the field, and unknown ids with 404", async () => {
    const bad: unknown[] = [
      {},
      { name: "" },
      { name: "x\u0000y" },
      { name: "x\u001b[31mred" },
      { name: "x", budget: "-1" },
      { name: "x", budget: 5 },
      { name: "x", budget: "1e3" },
      { name: "x", budget: "0.0000000000000000001" },
      { name: "x", requestsPerMinute: 0 },
      { name: "x", requestsPerMinute: 1.5 },
      { name: "x", tokensPerMinute: -5 },
      { name: "x", models: [] },
      { name: "x", models: ["a\u0000"] },
      { name: "x", models: "tiny" },
      { name: "x", expiresAt: "tomorrow" },
      { name: "x", expiresAt: "2020-01-01T00:00:00Z" },
      { name: "x", admin: true },
      '{"name":"x","__proto__":{"budget":null}}',
      '{"name":"x","constructor":{"prototype":{"budget":null}}}',
    ];
    for (const terms of bad) {
      const response = await gw.app.request("/admin/v1/keys", {
        method: "POST",
        headers: admin,
        body: typeof terms === "string" ? terms : JSON.stringify(terms),
      });
      expect(response.status, JSON.stringify(terms)).toBe(400);
      expect((await errorOf(response)).code).toBe("invalid_input");
    }
    for (const id of ["key_0000000000000000", "nope", "../keys", "key_%00"]) {
      const response = await call("POST", `/admin/v1/keys/${encodeURIComponent(id)}/revoke`);
      expect(response.status).toBe(404);
      expect((await errorOf(response)).code).toBe("key_not_found");
    }
    const nothing = await call("PATCH", "/admin/v1/keys/key_0000000000000000", {});
    expect([400, 404]).toContain(nothing.status);
  });
});
