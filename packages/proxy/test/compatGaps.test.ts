import OpenAI, { AuthenticationError, NotFoundError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabases } from "./helpers/testDatabases.js";
import { type TestGateway, testGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;

// Review of issue 12, LOW-1 and LOW-5: fields ordinary clients send to the Responses API, `models.retrieve`, the key
// checked before the body, and a key with a small tokens-per-minute limit sending no max_tokens.
describe("what ordinary OpenAI clients send", () => {
  let gw: TestGateway;
  let key: string;
  const database = embedded.make();
  const client = (apiKey = key) =>
    new OpenAI({
      apiKey,
      baseURL: "http://gateway.test/v1",
      maxRetries: 0,
      fetch: async (url: string | URL | Request, init?: RequestInit) => gw.app.fetch(new Request(url, init)),
    });
  beforeAll(async () => {
    gw = await testGateway(database);
    key = (await gw.keys.create({ name: "client", budget: "100" })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await database.dispose();
  });
  const lastSent = () => gw.upstream.sent.at(-1)!;

  it("takes top_logprobs (asking chat for logprobs), provider and reasoning: null on /v1/responses", async () => {
    await client().responses.create({
      model: "tiny",
      input: "hi",
      top_logprobs: 2,
      include: ["message.output_text.logprobs"],
    });
    expect(lastSent().body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    await client().responses.create({ model: "tiny", input: "hi", provider: { sort: "price" } } as never);
    expect(lastSent().provider).toMatchObject({ sort: "price" });
    expect(lastSent().body.provider).toBeUndefined();
    await client().responses.create({ model: "tiny", input: "hi", reasoning: null });
  });

  it("retrieves one model, and answers model_not_found for one the network does not serve", async () => {
    expect(await client().models.retrieve("tiny")).toMatchObject({ id: "tiny", object: "model" });
    await expect(client().models.retrieve("nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("checks the key before the body on /v1/responses", async () => {
    await expect(
      client("sk-wrong").responses.create({ model: "tiny", input: "hi", bogus: 1 } as never),
    ).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("fits the default max_tokens to a key's small tokens-per-minute limit instead of refusing", async () => {
    const small = await gw.keys.create({ name: "small tpm", budget: "100", tokensPerMinute: 150 });
    const answer = await client(small.key).chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(answer.choices).toHaveLength(1);
    const asked = lastSent().body.max_tokens as number;
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThan(100);
  });
});
