import { beforeAll, describe, expect, it } from "vitest";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, errorOf, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;

/** The one answer every unusable key gets: nothing tells a guessed key from a revoked or expired one. */
async function expectRefusedKey(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(await errorOf(response)).toEqual({
    code: "invalid_api_key",
    type: "invalid_request_error",
    message: "invalid API key: send `Authorization: Bearer <key>` with a valid, unrevoked key",
    param: null,
  });
}

describe("a client without a usable key", () => {
  const gw = suiteGateway(embedded.make);
  let key: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "good" })).key;
  });

  it("is served with the right key, and only then", async () => {
    const response = await chat(gw.app, key);
    expect(response.status).toBe(200);
    expect(gw.upstream.sent).toHaveLength(1);
  });

  it("gets 401 for a missing, wrong, mangled or misplaced key, and reaches no node", async () => {
    const sentBefore = gw.upstream.sent.length;
    const wrong = `sk-atoma-${"A".repeat(43)}`;
    await expectRefusedKey(await chat(gw.app, undefined));
    await expectRefusedKey(await chat(gw.app, wrong));
    await expectRefusedKey(await chat(gw.app, key.slice(0, -1)));
    await expectRefusedKey(await chat(gw.app, `${key}A`));
    await expectRefusedKey(await chat(gw.app, key.toUpperCase()));
    await expectRefusedKey(await chat(gw.app, undefined, undefined, { authorization: key }));
    await expectRefusedKey(await chat(gw.app, undefined, undefined, { authorization: `Basic ${key}` }));
    await expectRefusedKey(await chat(gw.app, undefined, undefined, { authorization: `Bearer  ${key}` }));
    await expectRefusedKey(await chat(gw.app, undefined, undefined, { "x-api-key": key }));
    expect(gw.upstream.sent).toHaveLength(sentBefore);
  });

  it("gets 401, never a 500, for odd bytes in the key", async () => {
    const odd = [
      "' OR 1=1 --",
      `sk-atoma-${"é".repeat(43)}`,
      `sk-atoma-${"\u00ff".repeat(43)}`,
      `sk-atoma-${"A".repeat(42)}%`,
      `sk-atoma-${"A".repeat(10_000)}`,
      "sk-atoma-",
      "null",
      "%00",
      `$${"{"}jndi:ldap://x}`,
      "\t",
    ];
    for (const token of odd) {
      // Header values travel as Latin-1: what a raw client could send.
      const latin1 = Buffer.from(token, "utf8").toString("latin1");
      await expectRefusedKey(await chat(gw.app, undefined, undefined, { authorization: `Bearer ${latin1}` }));
    }
  });

  it("loses access the moment its key is revoked", async () => {
    const { key: doomed, view } = await gw.keys.create({ name: "doomed" });
    expect((await chat(gw.app, doomed)).status).toBe(200);
    await gw.keys.revoke(view.id);
    await expectRefusedKey(await chat(gw.app, doomed));
    await expectRefusedKey(
      await gw.app.request("/v1/models", { headers: { authorization: `Bearer ${doomed}` } }),
    );
  });

  it("loses access the moment its key expires", async () => {
    const expiresAt = new Date(gw.clock.now + 60_000).toISOString();
    const { key: brief } = await gw.keys.create({ name: "brief", expiresAt });
    expect((await chat(gw.app, brief)).status).toBe(200);
    gw.clock.now += 60_000;
    await expectRefusedKey(await chat(gw.app, brief));
  });

  it("cannot use the admin API with an API key, a wrong token or none", async () => {
    for (const authorization of [
      undefined,
      `Bearer ${key}`,
      "Bearer admin-token-of-at-least-32-characters?",
    ]) {
      const response = await gw.app.request("/admin/v1/keys", {
        headers: authorization ? { authorization } : {},
      });
      await expectRefusedKey(response);
    }
  });
});

describe("a client naming a model with odd bytes", () => {
  const gw = suiteGateway(embedded.make);
  let key: string;
  let restricted: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "any model" })).key;
    restricted = (await gw.keys.create({ name: "other models only", models: ["other"] })).key;
  });

  const ask = (token: string, model: unknown) =>
    chat(gw.app, token, { model, messages: [{ role: "user", content: "hi" }], max_tokens: 5 });

  it("gets 404 model_not_found for a model the network does not serve, and nothing is sent", async () => {
    const names = [
      "TINY",
      "tiny ",
      "tiny\u0000",
      "t\u0456ny", // a Cyrillic і
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "../../etc/passwd",
      "x".repeat(10_000),
      "",
      "\u202etiny",
    ];
    for (const model of names) {
      const response = await ask(key, model);
      expect(response.status, JSON.stringify(model.slice(0, 20))).toBe(404);
      const error = await errorOf(response);
      expect(error.code).toBe("model_not_found");
      expect(error.message).not.toContain(model.slice(0, 8) || "\u0000");
    }
    expect(gw.upstream.sent).toHaveLength(0);
  });

  it("gets 400 for a model that is not text", async () => {
    for (const model of [null, 7, ["tiny"], { id: "tiny" }, true]) {
      const response = await ask(key, model);
      expect(response.status).toBe(400);
      expect((await errorOf(response)).code).toBe("invalid_input");
    }
  });

  it("gets the same 404 for a served model its key may not use", async () => {
    const response = await ask(restricted, "tiny");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: "model_not_found" });
    const listed = (await (
      await gw.app.request("/v1/models", { headers: { authorization: `Bearer ${restricted}` } })
    ).json()) as { data: unknown[] };
    expect(listed.data).toEqual([]);
    expect(gw.upstream.sent).toHaveLength(0);
  });

  it("gets 400 for bodies that are not a JSON object of UTF-8, and 413 past the size limit", async () => {
    const post = (body: string | Uint8Array, type = "application/json") =>
      gw.app.request("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": type, authorization: `Bearer ${key}` },
        body,
      });
    for (const [body, type] of [
      ["{", "application/json"],
      ["[]", "application/json"],
      ['"tiny"', "application/json"],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "application/json"],
      ['{"model":"tiny"}', "text/plain"],
      [`${"[".repeat(10_000)}${"]".repeat(10_000)}`, "application/json"],
    ] as const) {
      const response = await post(body, type);
      expect(response.status).toBe(400);
      expect(["invalid_json", "json_too_deep"]).toContain((await errorOf(response)).code);
    }
    const huge = await post(JSON.stringify({ model: "tiny", pad: "x".repeat(70 * 1024) }));
    expect(huge.status).toBe(413);
    expect((await errorOf(huge)).code).toBe("request_too_large");
    expect(gw.upstream.sent).toHaveLength(0);
  });
});
