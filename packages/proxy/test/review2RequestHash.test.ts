import { requestHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { requestBound } from "../src/limits/requestBound.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, sseEvents, suiteGateway } from "./helpers/testGateway.js";

/**
 * Review repro: the gateway signs and sends a body other than the client's (it adds `max_tokens` when none is
 * named, and strips `provider`); the node's receipt covers the gateway's body. The gateway therefore returns the
 * exact body it signed as `atoma_request` beside `atoma` (in JSON, and in a stream's final chunk), so that the
 * client can check the receipt's request hash against it, and it against its own body (`verifyResponse`; the
 * attacks on that comparison are in packages/node/test/verifyResponse.test.ts).
 */
describe("review: a client can check its answer's request hash through the gateway", () => {
  const gw = suiteGateway(testDatabases()[0]!.make);
  const sent = { model: "tiny", messages: [{ role: "user", content: "hi" }], provider: { sort: "price" } };

  it("the body the gateway signs differs from the client's, so the gateway returns it", () => {
    const { provider: _, ...rest } = sent;
    const signed = requestBound("chat", rest, { defaultMaxTokens: 16, maxCompletionTokens: 64 }).body;
    expect(requestHash(signed)).not.toBe(requestHash(sent));
  });

  it("returns the body it signed as atoma_request, in JSON and in the stream's final chunk", async () => {
    const key = (await gw.keys.create({ name: "request-hash", budget: "1" })).key;
    gw.upstream.behaviour = () => ({ units: 5 });
    const plain = (await (await chat(gw.app, key, sent)).json()) as Record<string, unknown>;
    const signed = gw.upstream.sent.at(-1)!.body;
    expect(signed).not.toHaveProperty("provider");
    expect(signed.max_tokens).toEqual(expect.any(Number));
    expect(plain.atoma_request).toEqual({ ...signed, stream: false });
    const events = await sseEvents(await chat(gw.app, key, { ...sent, stream: true }));
    const final = events.at(-1) as Record<string, unknown>;
    expect(final.atoma).toBeDefined();
    expect(final.atoma_request).toEqual({ ...gw.upstream.sent.at(-1)!.body, stream: true });
  });
});
