import { describe, expect, it } from "vitest";
import { parseProviderPreferences } from "../src/routing/providerPreferences.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, errorOf, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;

describe("the provider object", () => {
  it("reads OpenRouter's fields, node ids as decimal text or numbers", () => {
    expect(
      parseProviderPreferences({
        sort: "latency",
        max_price: { prompt: 2, completion: 1.5 },
        order: ["3", 1],
        only: ["1", "3"],
        ignore: ["2"],
        allow_fallbacks: false,
      }),
    ).toEqual({
      sort: "latency",
      maxPricePerMillion: 1_500_000_000_000_000_000n,
      order: [3n, 1n],
      only: [1n, 3n],
      ignore: [2n],
      allowFallbacks: false,
    });
    expect(parseProviderPreferences(undefined)).toEqual({ allowFallbacks: true });
    expect(parseProviderPreferences({ max_price: 0.25 }).maxPricePerMillion).toBe(250_000_000_000_000_000n);
  });

  const hostile: [string, unknown][] = [
    ["not an object", "cheapest"],
    ["an array", [1]],
    ["an unknown sort", { sort: "random" }],
    ["sort of the wrong type", { sort: 1 }],
    ["a negative price", { max_price: -1 }],
    ["a price that is no number", { max_price: "1e400" }],
    ["an infinite price", { max_price: { prompt: Number.POSITIVE_INFINITY } }],
    ["a node id that is no number", { order: ["node-1"] }],
    ["a negative node id", { only: [-1] }],
    ["a fractional node id", { ignore: [1.5] }],
    ["a node id past uint256", { order: ["9".repeat(80)] }],
    ["too many node ids", { only: Array.from({ length: 1_001 }, (_, i) => i) }],
    ["allow_fallbacks not boolean", { allow_fallbacks: "no" }],
    ["an unknown field", { quantizations: ["fp8"] }],
  ];
  it.each(hostile)("refuses %s with invalid_input", (_why, value) => {
    expect(() => parseProviderPreferences(value)).toThrow(expect.objectContaining({ code: "invalid_input" }));
  });

  describe("on the wire", () => {
    const gw = suiteGateway(embedded.make);
    it("answers a bad provider object with an OpenAI-shaped 400, before anything is reserved or sent", async () => {
      const { key } = await gw.keys.create({ name: "provider", budget: "1" });
      const response = await chat(gw.app, key, {
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 10,
        provider: { sort: "<script>" },
      });
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error).toMatchObject({ code: "invalid_input", type: "invalid_request_error" });
      expect(error.message).not.toContain("<script>");
      expect(gw.upstream.sent).toHaveLength(0);
      expect((await gw.keys.list())[0]?.reserved).toBe("0");
    });

    it("passes the preferences to the router and never the provider object to the node", async () => {
      const { key } = await gw.keys.create({ name: "provider-ok" });
      const response = await chat(gw.app, key, {
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 10,
        provider: { sort: "price", only: ["7"] },
      });
      expect(response.status).toBe(200);
      const sent = gw.upstream.sent.at(-1)!;
      expect(sent.body.provider).toBeUndefined();
      expect(sent.provider).toMatchObject({ sort: "price", only: [7n] });
    });
  });
});
